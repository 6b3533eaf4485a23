"""Ed25519 signature verification (RFC 8032, section 5.1.7), written for the board.

verify(pub, msg, sig):
  1. sig is R (32 bytes) || S (32 bytes); S must be below the group order L.
  2. pub decodes to a point A (section 5.1.3): y below p, x recovered from
     x^2 = (y^2 - 1) / (d y^2 + 1), its parity from bit 255; otherwise False.
  3. k = SHA-512(R || pub || msg) mod L.
  4. R' = [S]B - [k]A (one double-and-add pass over both scalars, extended
     twisted-Edwards coordinates); the signature is good exactly when R's
     32 bytes equal R''s canonical encoding. This is the cofactorless check
     (the same as OpenSSL's, behind the `cryptography` package); a
     non-canonical R can never equal a canonical encoding, so it fails.

Nothing here raises on bad input: wrong types or lengths give False.
Public data only (a verifier holds no secret), so the code may branch on it.

The field arithmetic comes from a *level*: `viper` (machine code, where the
port has a native emitter and deploy installed `crypto/viper/`) or `plain`
(portable Python, `field.py`); both compute the same limbs. Nothing here
allocates per field operation: every temporary is made once per call.
"""

from array import array

from edgeloop_fw.crypto import field as _plain
from edgeloop_fw.crypto.sha512 import new as _sha512

try:
    from edgeloop_fw.crypto.viper import field as _viper
except (ImportError, SyntaxError, ValueError):  # CPython, WebAssembly, CircuitPython, another arch
    _viper = None

# The group order L = 2**252 + 27742317777372353535851937790883648493.
L = 2 ** 252 + 27742317777372353535851937790883648493

# Constants as 32-byte little-endian field elements (RFC 8032 section 5.1).
_D2 = "59f1b226949bd6eb56b183829a14e00030d1f3eef2808e19e7fcdf56dcd90624"  # 2d, d = -121665/121666
_D = "a3785913ca4deb75abd841414d0a700098e879777940c78c73fe6f2bee6c0352"
_SQRT_M1 = "b0a00e4a271beec478e42fad0618432fa7d7fb3d99004d2b0bdfc14f8024832b"  # 2**((p-1)/4)
_BX = "1ad5258f602d56c9b2a7259560c72c695cdcd6fd31e2a4c0fe536ecdd3366921"  # the base point B
_BY = "5866666666666666666666666666666666666666666666666666666666666666"


def levels():
    """The field levels this port can run, fastest first."""
    return ("viper", "plain") if _viper is not None else ("plain",)


def _unhex(s):
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))


class _Verify:
    """One verification's working set: every field element it needs, made once."""

    def __init__(self, fe):
        new = _plain.new
        self.mul = fe.mul
        self.sq = fe.sq
        self.add = fe.add
        self.sub = fe.sub
        self.t = _plain.scratch()
        self.enc = bytearray(32)
        self.enc2 = bytearray(32)
        self.d = new(_unhex(_D))
        self.d2 = new(_unhex(_D2))
        self.zero = new()
        self.one = new()
        self.one[0] = 1
        # temporaries (named for their use in the point formulas)
        self.a = new()
        self.b = new()
        self.c = new()
        self.e = new()
        self.f = new()
        self.g = new()
        self.h = new()
        # the running point Q = (X, Y, Z, T) and the point A
        self.q = [new(), new(), new(), new()]
        self.pa = [new(), new(), new(), new()]
        # cached points (Y+X, Y-X, 2Z, 2dT) of B, -A, B-A for the double-scalar loop
        self.cache = [[new(), new(), new(), new()] for _ in range(3)]

    # -- field helpers ------------------------------------------------------
    def pow22523(self, r, z):
        """r = z ** ((p - 5) / 8) = z ** (2**252 - 3) (the addition chain of ref10)."""
        sq, mul, t = self.sq, self.mul, self.t
        t0, t1, t2 = self.e, self.f, self.g
        sq(t0, z, t)  # z^2
        sq(t1, t0, t)
        sq(t1, t1, t)  # z^8
        mul(t1, z, t1, t)  # z^9
        mul(t0, t0, t1, t)  # z^11
        sq(t0, t0, t)  # z^22
        mul(t0, t1, t0, t)  # z^(2^5 - 1)
        self.sqn(t1, t0, 5)
        mul(t0, t1, t0, t)  # 2^10 - 1
        self.sqn(t1, t0, 10)
        mul(t1, t1, t0, t)  # 2^20 - 1
        self.sqn(t2, t1, 20)
        mul(t1, t2, t1, t)  # 2^40 - 1
        self.sqn(t1, t1, 10)
        mul(t0, t1, t0, t)  # 2^50 - 1
        self.sqn(t1, t0, 50)
        mul(t1, t1, t0, t)  # 2^100 - 1
        self.sqn(t2, t1, 100)
        mul(t1, t2, t1, t)  # 2^200 - 1
        self.sqn(t1, t1, 50)
        mul(t0, t1, t0, t)  # 2^250 - 1
        self.sqn(t0, t0, 2)  # 2^252 - 4
        mul(r, t0, z, t)  # 2^252 - 3

    def sqn(self, r, a, n):
        sq, t = self.sq, self.t
        sq(r, a, t)
        for _ in range(n - 1):
            sq(r, r, t)

    def invert(self, r, z):
        """r = z ** (p - 2) = 1/z: z ** (2**255 - 21) = (z ** (2**252 - 3)) ** 8 * z ** 3."""
        self.pow22523(self.h, z)
        self.sqn(self.h, self.h, 3)  # z^(2^255 - 24)
        self.sq(self.a, z, self.t)
        self.mul(self.a, self.a, z, self.t)  # z^3
        self.mul(r, self.h, self.a, self.t)

    def equal(self, a, b):
        return _plain.to_bytes(a, self.enc) == _plain.to_bytes(b, self.enc2)

    # -- points ---------------------------------------------------------------
    def decode(self, p, s):
        """p = the point encoded in the 32 bytes s (RFC 8032 5.1.3); False if s is not one."""
        x, y, z, tt = p
        _plain.from_bytes(y, s)
        enc = _plain.to_bytes(y, self.enc)
        enc[31] |= s[31] & 0x80
        if enc != s:
            return False  # y >= p: a non-canonical encoding
        sq, mul, sub, add, t = self.sq, self.mul, self.sub, self.add, self.t
        u, v, w = self.b, self.c, self.a
        sq(u, y, t)
        mul(v, u, self.d, t)
        sub(u, u, self.one)  # u = y^2 - 1
        add(v, v, self.one)  # v = d y^2 + 1
        sq(w, v, t)
        mul(w, w, v, t)  # v^3
        mul(x, w, u, t)  # u v^3
        sq(w, w, t)
        mul(w, w, v, t)  # v^7
        mul(w, w, u, t)  # u v^7
        self.pow22523(z, w)  # z as a temporary: (u v^7)^((p-5)/8)
        mul(x, x, z, t)  # candidate root
        sq(w, x, t)
        mul(w, w, v, t)  # v x^2
        if not self.equal(w, u):
            sub(w, self.zero, w)  # -v x^2
            if not self.equal(w, u):
                return False  # no square root: not a point
            _plain.from_bytes(w, _unhex(_SQRT_M1))
            mul(x, x, w, t)
        _plain.to_bytes(x, self.enc)
        sign = s[31] >> 7
        if self.enc == bytes(32) and sign:
            return False  # x = 0 has no negative
        if (self.enc[0] & 1) != sign:
            sub(x, self.zero, x)
        for i in range(_plain.N):
            z[i] = 0
        z[0] = 1
        mul(tt, x, y, t)
        return True

    def to_cached(self, c, p, negate=False):
        """c = (Y+X, Y-X, 2Z, 2dT) of p, or of -p."""
        x, y, z, tt = p
        if negate:
            self.add(c[1], y, x)
            self.sub(c[0], y, x)
            self.mul(c[3], tt, self.d2, self.t)
            self.sub(c[3], self.zero, c[3])
        else:
            self.add(c[0], y, x)
            self.sub(c[1], y, x)
            self.mul(c[3], tt, self.d2, self.t)
        self.add(c[2], z, z)

    def add_cached(self, p, c):
        """p += the cached point c (add-2008-hwcd-3, complete for a = -1)."""
        x, y, z, tt = p
        mul, add, sub, t = self.mul, self.add, self.sub, self.t
        a, b, cc, e, f, g, h = self.a, self.b, self.c, self.e, self.f, self.g, self.h
        sub(a, y, x)
        mul(a, a, c[1], t)  # A = (Y1 - X1)(Y2 - X2)
        add(b, y, x)
        mul(b, b, c[0], t)  # B = (Y1 + X1)(Y2 + X2)
        mul(cc, tt, c[3], t)  # C = T1 2d T2
        mul(h, z, c[2], t)  # D = 2 Z1 Z2
        sub(e, b, a)  # E = B - A
        sub(f, h, cc)  # F = D - C
        add(g, h, cc)  # G = D + C
        add(h, b, a)  # H = B + A
        mul(x, e, f, t)
        mul(y, g, h, t)
        mul(tt, e, h, t)
        mul(z, f, g, t)

    def double(self, p):
        """p = 2p (dbl-2008-hwcd for a = -1, signs folded as in ref10)."""
        x, y, z, tt = p
        mul, sq, add, sub, t = self.mul, self.sq, self.add, self.sub, self.t
        a, b, c, e, f, g, h = self.a, self.b, self.c, self.e, self.f, self.g, self.h
        sq(a, x, t)  # A = X^2
        sq(b, y, t)  # B = Y^2
        sq(c, z, t)
        add(c, c, c)  # C = 2 Z^2
        add(h, a, b)  # H = A + B
        add(e, x, y)
        sq(e, e, t)
        sub(e, h, e)  # E = H - (X + Y)^2
        sub(g, a, b)  # G = A - B
        add(f, c, g)  # F = C + G
        mul(x, e, f, t)
        mul(y, g, h, t)
        mul(tt, e, h, t)
        mul(z, f, g, t)

    def run(self, pub, msg, sig):
        if not self.decode(self.pa, pub):
            return False
        r_bytes = sig[:32]
        h = _sha512()
        h.update(r_bytes)
        h.update(pub)
        h.update(msg)
        k = int.from_bytes(h.digest(), "little") % L
        kb = k.to_bytes(32, "little")
        sb = sig[32:]
        # table: 1 = B, 2 = -A, 3 = B - A
        b = [_plain.new(_unhex(_BX)), _plain.new(_unhex(_BY)), _plain.new(), _plain.new()]
        b[2][0] = 1
        self.mul(b[3], b[0], b[1], self.t)
        self.to_cached(self.cache[0], b)
        self.to_cached(self.cache[1], self.pa, negate=True)
        q = self.q
        for i in range(4):
            for j in range(_plain.N):
                q[i][j] = b[i][j]
        self.add_cached(q, self.cache[1])
        self.to_cached(self.cache[2], q)
        # Q = identity, then one pass from bit 252 (S, k < L < 2**253) down
        for i in range(4):
            for j in range(_plain.N):
                q[i][j] = 0
        q[1][0] = 1
        q[2][0] = 1
        started = False
        for i in range(252, -1, -1):
            if started:
                self.double(q)
            sel = ((sb[i >> 3] >> (i & 7)) & 1) | (((kb[i >> 3] >> (i & 7)) & 1) << 1)
            if sel:
                self.add_cached(q, self.cache[sel - 1])
                started = True
        # encode R' = (X/Z, Y/Z) and compare with R
        zi = self.b
        self.invert(zi, q[2])
        self.mul(self.c, q[1], zi, self.t)  # y
        self.mul(self.e, q[0], zi, self.t)  # x
        enc = _plain.to_bytes(self.c, self.enc)
        _plain.to_bytes(self.e, self.enc2)
        enc[31] |= (self.enc2[0] & 1) << 7
        return enc == r_bytes


def verify(pub, msg, sig, level=None):
    """True when sig (64 bytes) is pub's (32 bytes) Ed25519 signature of msg; never raises on bad input.

    `level` picks the field arithmetic ("viper" or "plain", see `levels()`);
    None takes the fastest this port has.
    """
    try:
        if len(pub) != 32 or len(sig) != 64:
            return False
        pub = bytes(pub)
        sig = bytes(sig)
        if int.from_bytes(sig[32:], "little") >= L:
            return False  # S must be below L (malleability)
    except (TypeError, ValueError):
        return False
    if level is None:
        level = levels()[0]
    fe = _viper if level == "viper" else _plain
    if fe is None:
        raise ValueError("field level 'viper' is not available on this port; use one of %s" % (levels(),))
    try:
        return _Verify(fe).run(pub, msg, sig)
    except (TypeError, ValueError):  # msg of a type hashing refuses
        return False
