"""crypto.sha256 under CPython against hashlib: the port's spelling and the pure fallback
(what a CircuitPython build without hashlib uses to check model files)."""

import hashlib
import random

import pytest

from edgeloop_fw.crypto import sha256
from edgeloop_fw.crypto.sha256_pure import Pure


@pytest.mark.parametrize("n", [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 4097])
def test_pure_and_port_equal_hashlib_across_padding_boundaries(n):
    data = random.Random(n).randbytes(n)
    want = hashlib.sha256(data).digest()
    h = Pure()
    for i in range(0, n, 37):  # fed in uneven pieces
        h.update(data[i:i + 37])
    assert h.digest() == want
    assert h.digest() == want  # digest() leaves the object usable
    assert sha256.new(data).digest() == want


def test_digest_then_more_data_equals_hashing_it_all():
    h = Pure(b"abc")
    assert h.digest() == hashlib.sha256(b"abc").digest()
    h.update(b"def")
    assert h.digest() == hashlib.sha256(b"abcdef").digest()


def test_without_hashlib_new_uses_the_pure_code(monkeypatch):
    monkeypatch.setattr(sha256, "PORT", "pure")
    h = sha256.new(b"edgeloop")
    assert isinstance(h, Pure) and h.digest() == hashlib.sha256(b"edgeloop").digest()
