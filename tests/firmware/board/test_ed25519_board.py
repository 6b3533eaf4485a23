"""Ed25519 verify on the rp2040 virtual board (real MicroPython, heap capped), against `cryptography`.

The firmware gets there as `edgeloop deploy` lays it out (.mpy; no viper
folder, since the WebAssembly port has no native emitter, so the plain field
level and the pure SHA-512 run); the signatures are made on the host by the
`cryptography` package. This board collects garbage only between REPL
executions, so a verify that allocated per field operation or per SHA block
would run out of heap here: the test also reports the bytes a verify
allocates and the time it takes.
"""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

pytestmark = pytest.mark.sim

# a verify's allocations (temporaries made once per call, the imports' first use excluded)
HEAP_BOUND = 32 * 1024


def cases(n=3):
    rng = random.Random(15)
    out = []
    for i in range(n):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        msg = rng.randbytes((0, 130, 700)[i % 3])
        out.append((pub, msg, key.sign(msg)))
    return out


def test_verify_on_the_virtual_board_matches_cryptography(any_board):
    fw_board = any_board
    lines = []
    for pub, msg, sig in cases():
        bad = sig[:10] + bytes([sig[10] ^ 4]) + sig[11:]
        lines.append(f"check({pub.hex()!r}, {msg.hex()!r}, {sig.hex()!r}, {bad.hex()!r})")
    setup = """
import gc
from edgeloop_fw.port import ticks_ms, ticks_diff  # CircuitPython's time has no ticks_*
from edgeloop_fw.crypto import verify
from edgeloop_fw.crypto import ed25519
def unhex(s):
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))
def check(p, m, s, b):
    p, m, s, b = unhex(p), unhex(m), unhex(s), unhex(b)
    gc.collect()
    a0 = gc.mem_alloc()
    t0 = ticks_ms()
    ok = verify(p, m, s)
    dt = ticks_diff(ticks_ms(), t0)
    used = gc.mem_alloc() - a0
    print('RESULT', ok, verify(p, m, b), verify(p, m + b'!', s), len(m), dt, used, ed25519.levels())
"""
    warm = "verify(bytes(32), b'', bytes(64))\n"  # first use imports the modules
    out = fw_board.run([setup + warm] + lines, timeout=600)
    results = [line.split() for line in out.splitlines() if line.startswith("RESULT")]
    assert len(results) == len(lines), out
    for r in results:
        assert r[1:4] == ["True", "False", "False"], r  # good, tampered sig, tampered msg
        if any_board.kind == "wasm":  # no native emitter there: the plain field level ran
            assert "'plain'" in " ".join(r[7:]) and "viper" not in " ".join(r[7:])
        # the unix ports are 64-bit: every object is about twice a 32-bit board's
        bound = HEAP_BOUND if any_board.kind == "wasm" else 2 * HEAP_BOUND
        assert int(r[6]) < bound, f"a verify allocated {r[6]} bytes"
    print("virtual board verify (msg bytes, ms, bytes allocated):",
          [(int(r[4]), int(r[5]), int(r[6])) for r in results])
