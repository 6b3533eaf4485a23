"""The board's Ed25519 verify and SHA-512 under CPython, against independent references.

References: RFC 8032 section 7.1's test vectors (typed in from the RFC, and
re-signed by the `cryptography` package from the same seeds: Ed25519 signing
is deterministic, so a typo would show), the `cryptography` package (OpenSSL)
for random keys, messages and tamperings, hashlib for SHA-512, and Python's
own big ints for the field arithmetic. Fixed seeds throughout.

Under CPython `verify` runs the plain field level and the pure SHA-512 is
reached with `pure=True` (the port's hashlib is used otherwise); the viper
level runs in test_ed25519_viper.py and on the virtual board in
tests/firmware/board/test_ed25519_board.py.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeloop_fw.crypto import ed25519, field, verify
from edgeloop_fw.crypto.sha512 import new as sha512_new, sha512

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493  # RFC 8032 section 5.1

# RFC 8032 section 7.1: (SECRET KEY, PUBLIC KEY, MESSAGE, SIGNATURE)
RFC_7_1 = {
    "TEST 1": (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    "TEST 2": (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    "TEST 3": (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    "TEST SHA(abc)": (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
}


def raw_pub(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def reference_verify(pub: bytes, msg: bytes, sig: bytes) -> bool:
    """The `cryptography` package's (OpenSSL's) answer."""
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


# -- SHA-512 ------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 55, 63, 64, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 257, 1000])
def test_pure_sha512_matches_hashlib_at_block_boundaries(n):
    data = random.Random(n).randbytes(n)
    assert sha512(data, pure=True) == hashlib.sha512(data).digest()


def test_pure_sha512_matches_hashlib_on_random_lengths_and_split_updates():
    rng = random.Random(512)
    for _ in range(60):
        data = rng.randbytes(rng.randrange(0, 700))
        h = sha512_new(pure=True)
        i = 0
        while i < len(data):  # random update sizes, so the 128-byte buffer fills across calls
            step = rng.randrange(1, 200)
            h.update(data[i:i + step])
            i += step
        assert h.digest() == hashlib.sha512(data).digest(), len(data)


def test_pure_sha512_takes_bytearray_and_memoryview():
    data = bytes(range(256)) * 3
    want = hashlib.sha512(data).digest()
    assert sha512(bytearray(data), pure=True) == want
    assert sha512(memoryview(data), pure=True) == want


# -- the field ----------------------------------------------------------------

def limbs_value(a) -> int:
    return sum(int(v) << (12 * i) for i, v in enumerate(a))


def assert_carried(a):
    assert all(0 <= v < 4096 for v in a[:21]) and 0 <= a[21] <= 8, list(a)


def field_samples(rng):
    edge = [0, 1, 2, 19, P - 1, P - 2, P, P + 1, P + 18, 2 ** 255 - 1, 2 ** 254, 4095, 2 ** 252 - 1]
    return edge + [rng.randrange(0, 2 ** 255) for _ in range(120)]


def element(v: int):
    """A field element holding v (< 2**255) exactly, not reduced: from_bytes of its encoding."""
    return field.new(v.to_bytes(32, "little"))


def test_field_operations_match_python_integers():
    rng = random.Random(25519)
    t = field.scratch()
    vals = field_samples(rng)
    for _ in range(400):
        x, y = rng.choice(vals), rng.choice(vals)
        a, b, r = element(x), element(y), field.new()
        for op, want in ((field.mul, x * y), (field.add, x + y), (field.sub, x - y)):
            if op is field.mul:
                op(r, a, b, t)
            else:
                op(r, a, b)
            assert_carried(r)
            assert limbs_value(r) % P == want % P, (op.__name__, x, y)
        field.sq(r, a, t)
        assert_carried(r)
        assert limbs_value(r) % P == x * x % P


def test_field_results_may_alias_inputs():
    rng = random.Random(7)
    t = field.scratch()
    for _ in range(50):
        x, y = rng.randrange(P), rng.randrange(P)
        a, b = element(x), element(y)
        field.mul(a, a, b, t)
        assert limbs_value(a) % P == x * y % P
        field.sub(b, b, b)
        assert limbs_value(b) % P == 0
        c = element(x)
        field.sq(c, c, t)
        assert limbs_value(c) % P == x * x % P


def test_worst_case_carried_inputs_stay_in_range():
    """The largest carried element (limbs 4095, limb 21 = 8) through every op, repeatedly:
    no limb ever leaves the bounds that keep the arithmetic inside 30-bit small ints."""
    t = field.scratch()
    a = field.new()
    for i in range(21):
        a[i] = 4095
    a[21] = 8
    x = limbs_value(a)
    r = field.new()
    for op in (field.mul, field.add, field.sub):
        (op(r, a, a, t) if op is field.mul else op(r, a, a))
        assert_carried(r)
    field.mul(r, a, a, t)
    assert limbs_value(r) % P == x * x % P
    field.sub(r, field.new(), a)
    assert limbs_value(r) % P == -x % P


@pytest.mark.parametrize("v", [0, 1, 18, 19, P - 1, P, P + 1, P + 18, 2 ** 255 - 1, 2 ** 255 + 2 ** 252 - 1])
def test_to_bytes_is_the_canonical_encoding(v):
    a = field.new()
    for i in range(22):
        a[i] = (v >> (12 * i)) & 0xFFF
    a[21] = v >> 252  # up to 8: the largest carried top limb
    assert field.to_bytes(a, bytearray(32)) == (v % P).to_bytes(32, "little")


def test_curve_constants_are_rfc_8032s():
    """d, 2d, sqrt(-1) and the base point as the module spells them, recomputed from their definitions."""
    d = -121665 * pow(121666, P - 2, P) % P
    by = 4 * pow(5, P - 2, P) % P
    bx2 = (by * by - 1) * pow(d * by * by + 1, P - 2, P) % P
    got = {name: int.from_bytes(bytes.fromhex(getattr(ed25519, name)), "little")
           for name in ("_D", "_D2", "_SQRT_M1", "_BX", "_BY")}
    assert got["_D"] == d and got["_D2"] == 2 * d % P
    assert got["_SQRT_M1"] ** 2 % P == P - 1
    assert got["_BY"] == by and got["_BX"] ** 2 % P == bx2 and got["_BX"] % 2 == 0
    assert ed25519.L == L


# -- verify -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(RFC_7_1))
def test_rfc_8032_vectors(name):
    secret, pub, msg, sig = (bytes.fromhex(h) for h in RFC_7_1[name])
    key = Ed25519PrivateKey.from_private_bytes(secret)
    assert raw_pub(key) == pub and key.sign(msg) == sig  # the typed-in vector is the RFC's
    assert verify(pub, msg, sig) is True
    assert verify(pub, msg + b"\0", sig) is False
    assert verify(pub, msg, sig[:63] + bytes([sig[63] ^ 1])) is False


def test_random_keys_and_messages_signed_by_cryptography():
    rng = random.Random(8032)
    for n in range(16):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        msg = rng.randbytes(rng.choice([0, 1, rng.randrange(2, 300), 1000]))
        sig = key.sign(msg)
        assert verify(raw_pub(key), msg, sig) is True, n


@pytest.mark.parametrize("part", ["sig", "msg", "pub"])
def test_tampered_signatures_messages_and_keys_agree_with_cryptography(part):
    rng = random.Random({"sig": 1, "msg": 2, "pub": 3}[part])
    for n in range(8):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        pub, msg = raw_pub(key), rng.randbytes(rng.randrange(1, 200))
        sig = key.sign(msg)
        blob = bytearray({"sig": sig, "msg": msg, "pub": pub}[part])
        bit = rng.randrange(8 * len(blob))
        blob[bit >> 3] ^= 1 << (bit & 7)
        args = {"sig": sig, "msg": msg, "pub": pub, part: bytes(blob)}
        want = reference_verify(args["pub"], args["msg"], args["sig"])
        assert want is False
        assert verify(args["pub"], args["msg"], args["sig"]) is want, (part, bit)


def scalar_of(secret: bytes) -> int:
    """RFC 8032 5.1.5: the clamped secret scalar of a seed (for the hand-made signatures below)."""
    h = bytearray(hashlib.sha512(secret).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def test_s_at_or_above_l_is_refused():
    """S + L is the same scalar mod L: a verifier that skips the S < L check accepts it."""
    secret, pub, msg, sig = (bytes.fromhex(h) for h in RFC_7_1["TEST 2"])
    s = int.from_bytes(sig[32:], "little")
    for bad in (s + L, L, 2 ** 256 - 1):
        if bad < 2 ** 256:
            forged = sig[:32] + bad.to_bytes(32, "little")
            assert reference_verify(pub, msg, forged) is False
            assert verify(pub, msg, forged) is False


def test_identity_r_canonical_accepted_non_canonical_refused():
    """R = the identity point (nonce 0) with S = k*a: a valid signature when R is encoded
    canonically (y = 1), refused when R is written as y = p + 1 (RFC 8032: y must be < p);
    `cryptography` gives the same two answers."""
    secret, pub, msg, _ = (bytes.fromhex(h) for h in RFC_7_1["TEST 3"])
    a = scalar_of(secret)
    for r_enc, want in (((1).to_bytes(32, "little"), True), ((P + 1).to_bytes(32, "little"), False)):
        k = int.from_bytes(hashlib.sha512(r_enc + pub + msg).digest(), "little") % L
        sig = r_enc + (k * a % L).to_bytes(32, "little")
        assert reference_verify(pub, msg, sig) is want
        assert verify(pub, msg, sig) is want


def sign_with_scalar(a: int, pub: bytes, msg: bytes) -> bytes:
    """A signature under the public key `pub` = [a]B with nonce 0 (R = identity)."""
    r_enc = (1).to_bytes(32, "little")
    k = int.from_bytes(hashlib.sha512(r_enc + pub + msg).digest(), "little") % L
    return r_enc + (k * a % L).to_bytes(32, "little")


@pytest.mark.parametrize("y, sign", [(P + 1, 0), (P, 0), (2 ** 255 - 1, 0), (1, 1), (P - 1, 1)])
def test_non_canonical_public_keys_are_refused(y, sign):
    """y >= p, or x = 0 with the sign bit set (the identity y=1 and the point y=-1 have x = 0):
    RFC 8032 5.1.3 says decoding fails, so no signature can be valid, not even one that
    would check out with the key taken mod p (the identity key, scalar 0, signs anything)."""
    pub = (y | (sign << 255)).to_bytes(32, "little")
    msg = b"edgeloop"
    sig = sign_with_scalar(0, pub, msg)  # S = 0, R = identity: [0]B == identity + [k]O
    assert verify(pub, msg, sig) is False
    canonical = (y % P).to_bytes(32, "little")
    if y % P == 1:  # the same key written canonically does verify: the refusal is the encoding's
        assert verify(canonical, msg, sign_with_scalar(0, canonical, msg)) is True
        assert reference_verify(canonical, msg, sign_with_scalar(0, canonical, msg)) is True


def test_public_key_that_is_not_a_point_is_refused():
    """A y whose x^2 = (y^2-1)/(dy^2+1) has no square root mod p (checked with Euler's criterion)."""
    d = -121665 * pow(121666, P - 2, P) % P
    y = 2
    while True:
        x2 = (y * y - 1) * pow(d * y * y + 1, P - 2, P) % P
        if x2 and pow(x2, (P - 1) // 2, P) != 1:
            break
        y += 1
    pub = y.to_bytes(32, "little")
    sig = bytes.fromhex(RFC_7_1["TEST 1"][3])
    assert reference_verify(pub, b"", sig) is False
    assert verify(pub, b"", sig) is False


@pytest.mark.parametrize("pub, msg, sig", [
    (b"", b"m", bytes(64)), (bytes(31), b"m", bytes(64)), (bytes(33), b"m", bytes(64)),
    (bytes(32), b"m", bytes(63)), (bytes(32), b"m", bytes(65)), (None, b"m", bytes(64)),
    (bytes(32), b"m", None), (bytes(32), None, bytes(64)), (bytes(32), 5, bytes(64)),
    ("x" * 32, b"m", bytes(64)),
])
def test_bad_input_gives_false_never_raises(pub, msg, sig):
    assert verify(pub, msg, sig) is False


def test_the_package_import_does_not_load_the_curve():
    """The app and loader never pay for the curve code unless they verify."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; import edgeloop_fw.crypto; "
            "print(sorted(m for m in sys.modules if m.startswith('edgeloop_fw.crypto')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(Path(ed25519.__file__).parents[2])})
    assert out.stdout.strip() == "['edgeloop_fw.crypto']"
