"""What differs between the ports, checked on each real interpreter (issue 20).

Every test runs on the virtual board and on the unix ports of CircuitPython
(EDGELOOP_CIRCUITPYTHON) and MicroPython (tests/tools/unix_board.py); the
references are CPython's hashlib and plain byte strings, never the firmware.
"""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from tests.tools.runtime_helpers import HELLO, need

pytestmark = pytest.mark.sim

SHA_LENGTHS = (0, 1, 55, 56, 63, 64, 65, 119, 120, 1000)


def test_sha256_on_every_port_and_without_hashlib_equals_cpython(any_board):
    """bundle_format.sha256 (whichever spelling the port has) and the pure fallback for
    ports without hashlib give CPython's digest, across the padding boundaries."""
    rng = random.Random(20)
    blob = bytes(rng.getrandbits(8) for _ in range(max(SHA_LENGTHS)))
    any_board.put({"/blob.bin": blob})
    out = any_board.run(["""
from edgeloop_fw.bundle_format import sha256
from edgeloop_fw.crypto.sha256_pure import Pure
import hashlib
data = open('/blob.bin', 'rb').read()
print('PORT', 'sha256' if hasattr(hashlib, 'sha256') else 'new')
for n in %r:
    h = Pure(data[:n // 3])
    h.update(data[n // 3:n])
    print('SHA', n, sha256(data[:n]).digest().hex(), h.digest().hex())
""" % (SHA_LENGTHS,), """
import gc, micropython
def locked(h, block):
    # A block hashed under heap_lock: the pure code must not allocate (a model is hashed per load).
    micropython.heap_lock()
    try:
        h.update(block)
        r = 'ok'
    except MemoryError:
        r = 'MemoryError'
    micropython.heap_unlock()
    return r
h = Pure(data[:64])
block = data[64:128]
gc.collect()
print('LOCKED', locked(h, block))
"""])
    got = {int(ln.split()[1]): ln.split()[2:] for ln in out.splitlines() if ln.startswith("SHA ")}
    assert sorted(got) == sorted(SHA_LENGTHS), out
    for n, (port, pure) in got.items():
        want = hashlib.sha256(blob[:n]).hexdigest()
        assert port == want and pure == want, n
    assert "LOCKED ok" in out, out
    if any_board.kind == "circuitpython":
        assert "PORT new" in out  # CircuitPython's hashlib: new(name, data) only


def test_a_bit_flipped_model_is_refused_where_the_port_has_no_hashlib(any_board):
    """Without hashlib the loader hashes in Python; it used to skip the check and load the model."""
    from edgeloop.convert.int8 import convert_tflite

    good = convert_tflite(need(HELLO)).data
    bad = bytearray(good)
    bad[-10] ^= 0x04
    any_board.put({"/good.elm": good, "/bad.bin": bytes(bad)})
    out = any_board.run(["""
from edgeloop_fw.runtime import loader
loader.hashlib = None  # as on a CircuitPython build without hashlib
from edgeloop_fw.runtime.loader import Model, ModelFileError
m = Model(open('/good.elm', 'rb'))
print('GOOD', m.verified)
try:
    Model(open('/bad.bin', 'rb'))
    print('BAD accepted')
except ModelFileError as e:
    print('BAD refused', e)
"""])
    assert "GOOD True" in out, out
    assert "BAD refused model file is corrupted" in out, out


# Bytes a command frame can hold that a text console mangles: 0x80 (not UTF-8), c3 a9 (é, one
# character from two bytes), \r (boards turn it into \n), and 0x00/0xff.
CONSOLE_BYTES = b"\x80\xc3\xa9\r\n\x00\x7f\xff\x04z"

CONSOLE_SCRIPT = r"""
import sys
class _CDC:  # usb_cdc with the data channel off (boot.py did not enable it)
    data = None
    console = None
sys.modules['usb_cdc'] = _CDC
if sys.argv[-1] == 'console':
    import io
    class _Serial:  # usb_cdc.console: a bytes stream with in_waiting
        in_waiting = 1
        def __init__(self, b):
            self._f = io.BytesIO(b)
        def readinto(self, buf):
            return self._f.readinto(buf)
    _CDC.console = _Serial(sys.stdin.buffer.read(%d))
from edgeloop_fw.serial_link import Input
inp = Input()
got = []
while len(got) < %d:
    b = inp.read()
    if b >= 0:
        got.append(b)
print('GOT', bytes(got).hex())
""" % (len(CONSOLE_BYTES), len(CONSOLE_BYTES))


@pytest.mark.parametrize("via", ["stdin", "console"])
def test_circuitpython_console_input_gives_the_bytes_sent(tmp_path, via):
    """serial_link.Input on CircuitPython without the data channel: every byte as sent, whether
    the console is read through sys.stdin (the unix build has its .buffer) or usb_cdc.console."""
    import subprocess

    from tests.tools import unix_board as UB

    interp = UB.interpreters()["circuitpython"]
    if not interp:
        pytest.skip(f"set {UB.CIRCUITPYTHON_ENV} to a CircuitPython unix build (tests/tools/build_circuitpython.sh)")
    script = tmp_path / "console.py"
    script.write_text(CONSOLE_SCRIPT)
    env = dict(os.environ, MICROPYPATH=f"{UB.SHIMS}:{UB.REPO / 'firmware'}")
    r = subprocess.run([interp, str(script), via], input=CONSOLE_BYTES, capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split(b"GOT ")[1].split()[0].decode() == CONSOLE_BYTES.hex()
