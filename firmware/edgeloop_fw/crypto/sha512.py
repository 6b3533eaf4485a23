"""SHA-512 (FIPS 180-4) for Ed25519: the port's `hashlib.sha512` when it has one, else this one.

MicroPython's hashlib has SHA-256 only, so the board hashes with the code
below. A 64-bit word is four 16-bit limbs (limb 0 the least significant),
because a MicroPython small int holds only 30 bits on a 32-bit port: any
larger value, even a 32-bit half, would be a heap-allocated long int, and the
virtual board (like any board mid-verify) must not fill its heap with them.
Every value the compression touches stays below 2**19, so compressing a
block allocates nothing: the schedule, state and round constants are
preallocated arrays of limbs, and the working variables a..h are not moved
each round but addressed through a rotating slot offset.

`new()` gives an object with `update(data)` and `digest()` (32-bit ports
stream the message through a 128-byte buffer, so a long message never has
to be one bytes object).
"""

from array import array

try:
    from hashlib import sha512 as _port_sha512
except ImportError:  # MicroPython, CircuitPython
    _port_sha512 = None

try:  # only the pure implementation below needs these, never on CPython
    from micropython import const
except ImportError:
    def const(x):
        return x

_MASK = const(0xFFFF)

# FIPS 180-4 section 4.2.3: the first 64 bits of the fractional parts of the
# cube roots of the first 80 primes, as 16-bit limbs, most significant first.
_K_HEX = (
    "428a2f98d728ae227137449123ef65cdb5c0fbcfec4d3b2fe9b5dba58189dbbc"
    "3956c25bf348b53859f111f1b605d019923f82a4af194f9bab1c5ed5da6d8118"
    "d807aa98a303024212835b0145706fbe243185be4ee4b28c550c7dc3d5ffb4e2"
    "72be5d74f27b896f80deb1fe3b1696b19bdc06a725c71235c19bf174cf692694"
    "e49b69c19ef14ad2efbe4786384f25e30fc19dc68b8cd5b5240ca1cc77ac9c65"
    "2de92c6f592b02754a7484aa6ea6e4835cb0a9dcbd41fbd476f988da831153b5"
    "983e5152ee66dfaba831c66d2db43210b00327c898fb213fbf597fc7beef0ee4"
    "c6e00bf33da88fc2d5a79147930aa72506ca6351e003826f142929670a0e6e70"
    "27b70a8546d22ffc2e1b21385c26c9264d2c6dfc5ac42aed53380d139d95b3df"
    "650a73548baf63de766a0abb3c77b2a881c2c92e47edaee692722c851482353b"
    "a2bfe8a14cf10364a81a664bbc423001c24b8b70d0f89791c76c51a30654be30"
    "d192e819d6ef5218d69906245565a910f40e35855771202a106aa07032bbd1b8"
    "19a4c116b8d2d0c81e376c085141ab532748774cdf8eeb9934b0bcb5e19b48a8"
    "391c0cb3c5c95a634ed8aa4ae3418acb5b9cca4f7763e373682e6ff3d6b2b8a3"
    "748f82ee5defb2fc78a5636f43172f6084c87814a1f0ab728cc702081a6439ec"
    "90befffa23631e28a4506cebde82bde9bef9a3f7b2c67915c67178f2e372532b"
    "ca273eceea26619cd186b8c721c0c207eada7dd6cde0eb1ef57d4f7fee6ed178"
    "06f067aa72176fba0a637dc5a2c898a6113f9804bef90dae1b710b35131c471b"
    "28db77f523047d8432caab7b40c724933c9ebe0a15c9bebc431d67c49c100d4c"
    "4cc5d4becb3e42b6597f299cfc657e2a5fcb6fab3ad6faec6c44198c4a475817"
)
# Section 5.3.5: the initial hash value.
_H0_HEX = (
    "6a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1"
    "510e527fade682d19b05688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e2179"
)


def _limbs(hex_words):
    """Hex of 64-bit words -> array of 16-bit limbs, four per word, least significant first."""
    out = array("H", bytes(len(hex_words) // 2))
    for w in range(len(hex_words) // 16):
        for i in range(4):
            p = w * 16 + 12 - 4 * i
            out[w * 4 + i] = int(hex_words[p:p + 4], 16)
    return out


class _SHA512:
    """SHA-512 in 16-bit limbs; allocation-free per block (see the module doc)."""

    def __init__(self, data=None):
        self._h = _limbs(_H0_HEX)
        self._k = _limbs(_K_HEX)
        self._w = array("H", bytes(2 * 320))  # the 80-word message schedule
        self._v = array("H", bytes(64))  # the working variables a..h
        self._buf = bytearray(128)
        self._n = 0  # bytes in _buf
        self._len = 0  # message length in bytes (a small int up to 2**30)
        if data:
            self.update(data)

    def update(self, data):
        buf = self._buf
        n = self._n
        i = 0
        end = len(data)
        self._len += end
        while i < end:
            take = min(128 - n, end - i)
            for j in range(take):  # byte by byte: a slice would allocate a copy per block
                buf[n + j] = data[i + j]
            n += take
            i += take
            if n == 128:
                self._compress(buf)
                n = 0
        self._n = n

    def digest(self):
        """The 64-byte hash of everything fed so far (the object is spent afterwards)."""
        buf = self._buf
        n = self._n
        bits = self._len * 8
        buf[n] = 0x80
        n += 1
        if n > 112:
            for j in range(n, 128):
                buf[j] = 0
            self._compress(buf)
            n = 0
        for j in range(n, 120):
            buf[j] = 0
        for j in range(8):  # low 64 bits of the length (no message here reaches 2**61 bytes)
            buf[127 - j] = (bits >> (8 * j)) & 0xFF
        self._compress(buf)
        h = self._h
        out = bytearray(64)
        for w in range(8):
            for i in range(4):
                v = h[w * 4 + 3 - i]
                out[w * 8 + 2 * i] = v >> 8
                out[w * 8 + 2 * i + 1] = v & 0xFF
        return bytes(out)

    def _compress(self, blk):
        w = self._w
        k = self._k
        h = self._h
        for t in range(16):
            p = t * 8
            q = t * 4
            w[q + 3] = (blk[p] << 8) | blk[p + 1]
            w[q + 2] = (blk[p + 2] << 8) | blk[p + 3]
            w[q + 1] = (blk[p + 4] << 8) | blk[p + 5]
            w[q] = (blk[p + 6] << 8) | blk[p + 7]
        for t in range(16, 80):
            q = t * 4
            # s0 = rotr1 ^ rotr8 ^ shr7 of W[t-15]
            p = q - 60
            x0 = w[p]
            x1 = w[p + 1]
            x2 = w[p + 2]
            x3 = w[p + 3]
            s0 = ((x0 >> 1) | ((x1 & 1) << 15)) ^ ((x0 >> 8) | (x1 << 8)) ^ ((x0 >> 7) | (x1 << 9))
            s1 = ((x1 >> 1) | ((x2 & 1) << 15)) ^ ((x1 >> 8) | (x2 << 8)) ^ ((x1 >> 7) | (x2 << 9))
            s2 = ((x2 >> 1) | ((x3 & 1) << 15)) ^ ((x2 >> 8) | (x3 << 8)) ^ ((x2 >> 7) | (x3 << 9))
            s3 = ((x3 >> 1) | ((x0 & 1) << 15)) ^ ((x3 >> 8) | (x0 << 8)) ^ (x3 >> 7)
            # s1 = rotr19 ^ rotr61 ^ shr6 of W[t-2]
            p = q - 8
            x0 = w[p]
            x1 = w[p + 1]
            x2 = w[p + 2]
            x3 = w[p + 3]
            u0 = ((x1 >> 3) | (x2 << 13)) ^ ((x3 >> 13) | (x0 << 3)) ^ ((x0 >> 6) | (x1 << 10))
            u1 = ((x2 >> 3) | (x3 << 13)) ^ ((x0 >> 13) | (x1 << 3)) ^ ((x1 >> 6) | (x2 << 10))
            u2 = ((x3 >> 3) | (x0 << 13)) ^ ((x1 >> 13) | (x2 << 3)) ^ ((x2 >> 6) | (x3 << 10))
            u3 = ((x0 >> 3) | (x1 << 13)) ^ ((x2 >> 13) | (x3 << 3)) ^ (x3 >> 6)
            a = q - 28  # W[t-7]
            b = q - 64  # W[t-16]
            c = (s0 & _MASK) + (u0 & _MASK) + w[a] + w[b]
            w[q] = c & _MASK
            c = (c >> 16) + (s1 & _MASK) + (u1 & _MASK) + w[a + 1] + w[b + 1]
            w[q + 1] = c & _MASK
            c = (c >> 16) + (s2 & _MASK) + (u2 & _MASK) + w[a + 2] + w[b + 2]
            w[q + 2] = c & _MASK
            c = (c >> 16) + (s3 & _MASK) + (u3 & _MASK) + w[a + 3] + w[b + 3]
            w[q + 3] = c & _MASK
        v = self._v
        for i in range(32):
            v[i] = h[i]
        # Working variable j (a=0 .. h=7) of round t lives at slot ((j - t) & 7) * 4,
        # so a round writes only the slots of the new a (old h's) and new e (old d's).
        for t in range(80):
            o = -t
            pa = (o & 7) * 4
            pe = ((o + 4) & 7) * 4
            pf = ((o + 5) & 7) * 4
            pg = ((o + 6) & 7) * 4
            ph = ((o + 7) & 7) * 4
            x0 = v[pe]
            x1 = v[pe + 1]
            x2 = v[pe + 2]
            x3 = v[pe + 3]
            # S1 = rotr14 ^ rotr18 ^ rotr41 of e, plus Ch(e, f, g), per limb
            c = (((x0 >> 14) | (x1 << 2)) ^ ((x1 >> 2) | (x2 << 14)) ^ ((x2 >> 9) | (x3 << 7))) & _MASK
            c += (x0 & v[pf]) ^ (~x0 & v[pg] & _MASK)
            c += v[ph] + k[t * 4] + w[t * 4]
            y0 = c & _MASK
            c = (c >> 16) + ((((x1 >> 14) | (x2 << 2)) ^ ((x2 >> 2) | (x3 << 14)) ^ ((x3 >> 9) | (x0 << 7))) & _MASK)
            c += (x1 & v[pf + 1]) ^ (~x1 & v[pg + 1] & _MASK)
            c += v[ph + 1] + k[t * 4 + 1] + w[t * 4 + 1]
            y1 = c & _MASK
            c = (c >> 16) + ((((x2 >> 14) | (x3 << 2)) ^ ((x3 >> 2) | (x0 << 14)) ^ ((x0 >> 9) | (x1 << 7))) & _MASK)
            c += (x2 & v[pf + 2]) ^ (~x2 & v[pg + 2] & _MASK)
            c += v[ph + 2] + k[t * 4 + 2] + w[t * 4 + 2]
            y2 = c & _MASK
            c = (c >> 16) + ((((x3 >> 14) | (x0 << 2)) ^ ((x0 >> 2) | (x1 << 14)) ^ ((x1 >> 9) | (x2 << 7))) & _MASK)
            c += (x3 & v[pf + 3]) ^ (~x3 & v[pg + 3] & _MASK)
            c += v[ph + 3] + k[t * 4 + 3] + w[t * 4 + 3]
            y3 = c & _MASK  # y = T1
            # e' = d + T1, into d's slot
            pd = ((o + 3) & 7) * 4
            c = v[pd] + y0
            v[pd] = c & _MASK
            c = (c >> 16) + v[pd + 1] + y1
            v[pd + 1] = c & _MASK
            c = (c >> 16) + v[pd + 2] + y2
            v[pd + 2] = c & _MASK
            v[pd + 3] = ((c >> 16) + v[pd + 3] + y3) & _MASK
            # T2 = S0(a) + Maj(a, b, c); a' = T1 + T2, into h's slot
            pb = ((o + 1) & 7) * 4
            pc = ((o + 2) & 7) * 4
            x0 = v[pa]
            x1 = v[pa + 1]
            x2 = v[pa + 2]
            x3 = v[pa + 3]
            # S0 = rotr28 ^ rotr34 ^ rotr39
            b = v[pb]
            d = v[pc]
            c = y0 + ((((x1 >> 12) | (x2 << 4)) ^ ((x2 >> 2) | (x3 << 14)) ^ ((x2 >> 7) | (x3 << 9))) & _MASK)
            c += (x0 & b) ^ (x0 & d) ^ (b & d)
            v[ph] = c & _MASK
            b = v[pb + 1]
            d = v[pc + 1]
            c = (c >> 16) + y1 + ((((x2 >> 12) | (x3 << 4)) ^ ((x3 >> 2) | (x0 << 14)) ^ ((x3 >> 7) | (x0 << 9))) & _MASK)
            c += (x1 & b) ^ (x1 & d) ^ (b & d)
            v[ph + 1] = c & _MASK
            b = v[pb + 2]
            d = v[pc + 2]
            c = (c >> 16) + y2 + ((((x3 >> 12) | (x0 << 4)) ^ ((x0 >> 2) | (x1 << 14)) ^ ((x0 >> 7) | (x1 << 9))) & _MASK)
            c += (x2 & b) ^ (x2 & d) ^ (b & d)
            v[ph + 2] = c & _MASK
            b = v[pb + 3]
            d = v[pc + 3]
            c = (c >> 16) + y3 + ((((x0 >> 12) | (x1 << 4)) ^ ((x1 >> 2) | (x2 << 14)) ^ ((x1 >> 7) | (x2 << 9))) & _MASK)
            c += (x3 & b) ^ (x3 & d) ^ (b & d)
            v[ph + 3] = c & _MASK
        # 80 rounds moved the slots by 80 = 0 (mod 8): slot j holds variable j again
        for w0 in range(8):
            p = w0 * 4
            c = h[p] + v[p]
            h[p] = c & _MASK
            c = (c >> 16) + h[p + 1] + v[p + 1]
            h[p + 1] = c & _MASK
            c = (c >> 16) + h[p + 2] + v[p + 2]
            h[p + 2] = c & _MASK
            h[p + 3] = ((c >> 16) + h[p + 3] + v[p + 3]) & _MASK


def new(data=None, pure=False):
    """A SHA-512 object (`update`, `digest`): the port's own unless it has none or `pure` is set."""
    if _port_sha512 is not None and not pure:
        return _port_sha512(data) if data else _port_sha512()
    return _SHA512(data)


def sha512(data, pure=False):
    """The 64-byte SHA-512 of `data`."""
    return new(data, pure).digest()
