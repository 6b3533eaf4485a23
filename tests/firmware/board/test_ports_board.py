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
    """crypto.sha256.new (whichever spelling the port has) and the pure fallback for
    ports without hashlib give CPython's digest, across the padding boundaries."""
    rng = random.Random(20)
    blob = bytes(rng.getrandbits(8) for _ in range(max(SHA_LENGTHS)))
    any_board.put({"/blob.bin": blob})
    out = any_board.run(["""
from edgeloop_fw.crypto import sha256
data = open('/blob.bin', 'rb').read()
print('PORT', sha256.PORT)
for n in %r:
    h = sha256.Pure(data[:n // 3])
    h.update(data[n // 3:n])
    print('SHA', n, sha256.new(data[:n]).digest().hex(), h.digest().hex())
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
h = sha256.Pure(data[:64])
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
from edgeloop_fw.crypto import sha256
sha256.PORT = 'pure'  # as on a CircuitPython build without hashlib
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
