"""bundle_format.sha256 under CPython against hashlib: the port's spelling and the pure fallback
(what a CircuitPython build without hashlib uses to check model files)."""

import hashlib
import random

import pytest

import builtins

from edgeloop_fw.bundle_format import sha256
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
    assert sha256(data).digest() == want


def test_digest_then_more_data_equals_hashing_it_all():
    h = Pure(b"abc")
    assert h.digest() == hashlib.sha256(b"abc").digest()
    h.update(b"def")
    assert h.digest() == hashlib.sha256(b"abcdef").digest()


def test_without_hashlib_the_pure_code_hashes(monkeypatch):
    real_import = builtins.__import__

    def no_hashlib(name, *a, **kw):
        if name in ("hashlib", "uhashlib"):
            raise ImportError(name)
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_hashlib)
    h = sha256(b"edgeloop")
    assert isinstance(h, Pure) and h.digest() == hashlib.sha256(b"edgeloop").digest()
