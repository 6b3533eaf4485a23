"""SHA-256 (FIPS 180-4) in Python, for ports without hashlib (bundle_format.sha256 and the
runtime's loader pick it there).

A module of its own so the ports that have hashlib never load its tables and
bytecode: a board's heap is better spent on models.
"""

from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x


# FIPS 180-4 section 4.2.2: first 32 bits of the fractional parts of the cube
# roots of the first 64 primes; section 5.3.3: of the square roots of the first 8.
_K_HEX = (
    "428a2f9871374491b5c0fbcfe9b5dba53956c25b59f111f1923f82a4ab1c5ed5"
    "d807aa9812835b01243185be550c7dc372be5d7480deb1fe9bdc06a7c19bf174"
    "e49b69c1efbe47860fc19dc6240ca1cc2de92c6f4a7484aa5cb0a9dc76f988da"
    "983e5152a831c66db00327c8bf597fc7c6e00bf3d5a7914706ca635114292967"
    "27b70a852e1b21384d2c6dfc53380d13650a7354766a0abb81c2c92e92722c85"
    "a2bfe8a1a81a664bc24b8b70c76c51a3d192e819d6990624f40e3585106aa070"
    "19a4c1161e376c082748774c34b0bcb5391c0cb34ed8aa4a5b9cca4f682e6ff3"
    "748f82ee78a5636f84c878148cc7020890befffaa4506cebbef9a3f7c67178f2"
)
_H0_HEX = "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"


_M = const(0xFFFF)


def _halves(hexs):
    """A hex string of 32-bit words as two arrays of 16-bit halves (high, low)."""
    n = len(hexs) // 8
    hi, lo = array("H", bytes(2 * n)), array("H", bytes(2 * n))
    for i in range(n):
        hi[i] = int(hexs[8 * i:8 * i + 4], 16)
        lo[i] = int(hexs[8 * i + 4:8 * i + 8], 16)
    return hi, lo


# A 32-bit word is two 16-bit halves, so no value ever exceeds a 30-bit small
# int on a 32-bit port: hashing allocates nothing per block (the virtual board,
# like a board mid-load, collects garbage only when it must). rotr by n < 16:
# the high half is (h >> n) | ((l & (2**n - 1)) << (16 - n)), the low half the same
# with h and l swapped; by n >= 16 swap the halves and rotate by n - 16. Written out
# inline: a call per rotation would allocate its frame on the heap.

_K = None


class Pure:
    """SHA-256 in Python, streamed through a 64-byte block buffer."""

    def __init__(self, data=b""):
        global _K
        if _K is None:
            _K = _halves(_K_HEX)
        self._hh, self._hl = _halves(_H0_HEX)
        self._wh = array("H", bytes(128))
        self._wl = array("H", bytes(128))
        self._buf = bytearray(64)
        self._fill = 0
        self._len = 0
        if data:
            self.update(data)

    def update(self, data):
        buf = self._buf
        fill = self._fill
        for i in range(len(data)):  # byte by byte: slicing would allocate per call
            buf[fill] = data[i]
            fill += 1
            if fill == 64:
                self._block()
                fill = 0
        self._fill = fill
        self._len += len(data)

    def _block(self):
        b, wh, wl = self._buf, self._wh, self._wl
        for t in range(16):
            wh[t] = (b[4 * t] << 8) | b[4 * t + 1]
            wl[t] = (b[4 * t + 2] << 8) | b[4 * t + 3]
        for t in range(16, 64):
            xh = wh[t - 15]  # one name per statement: a tuple assignment of 4+ allocates
            xl = wl[t - 15]
            yh = wh[t - 2]
            yl = wl[t - 2]
            # s0 = rotr7 ^ rotr18 ^ shr3; s1 = rotr17 ^ rotr19 ^ shr10
            s0h = ((xh >> 7) | ((xl & 127) << 9)) ^ ((xl >> 2) | ((xh & 3) << 14)) ^ (xh >> 3)
            s0l = ((xl >> 7) | ((xh & 127) << 9)) ^ ((xh >> 2) | ((xl & 3) << 14)) ^ ((xl >> 3) | ((xh & 7) << 13))
            s1h = ((yl >> 1) | ((yh & 1) << 15)) ^ ((yl >> 3) | ((yh & 7) << 13)) ^ (yh >> 10)
            s1l = ((yh >> 1) | ((yl & 1) << 15)) ^ ((yh >> 3) | ((yl & 7) << 13)) ^ ((yl >> 10) | ((yh & 1023) << 6))
            lo = wl[t - 16] + s0l + wl[t - 7] + s1l
            wh[t] = (wh[t - 16] + s0h + wh[t - 7] + s1h + (lo >> 16)) & _M
            wl[t] = lo & _M
        kh, kl = _K
        sh, sl = self._hh, self._hl
        ah = sh[0]
        al = sl[0]
        bh = sh[1]
        bl = sl[1]
        ch = sh[2]
        cl = sl[2]
        dh = sh[3]
        dl = sl[3]
        eh = sh[4]
        el = sl[4]
        fh = sh[5]
        fl = sl[5]
        gh = sh[6]
        gl = sl[6]
        hh = sh[7]
        hl = sl[7]
        for t in range(64):
            # t1 = h + S1(e) + Ch(e, f, g) + K[t] + W[t]; S1 = rotr6 ^ rotr11 ^ rotr25
            lo = (hl + (((el >> 6) | ((eh & 63) << 10)) ^ ((el >> 11) | ((eh & 2047) << 5)) ^ ((eh >> 9) | ((el & 511) << 7)))
                  + ((el & fl) ^ ((el ^ _M) & gl)) + kl[t] + wl[t])
            t1h = (hh + (((eh >> 6) | ((el & 63) << 10)) ^ ((eh >> 11) | ((el & 2047) << 5)) ^ ((el >> 9) | ((eh & 511) << 7)))
                   + ((eh & fh) ^ ((eh ^ _M) & gh)) + kh[t] + wh[t] + (lo >> 16)) & _M
            t1l = lo & _M
            # t2 = S0(a) + Maj(a, b, c); S0 = rotr2 ^ rotr13 ^ rotr22
            lo = (((al >> 2) | ((ah & 3) << 14)) ^ ((al >> 13) | ((ah & 8191) << 3)) ^ ((ah >> 6) | ((al & 63) << 10))) + ((al & bl) ^ (al & cl) ^ (bl & cl))
            t2h = ((((ah >> 2) | ((al & 3) << 14)) ^ ((ah >> 13) | ((al & 8191) << 3)) ^ ((al >> 6) | ((ah & 63) << 10))) + ((ah & bh) ^ (ah & ch) ^ (bh & ch))
                   + (lo >> 16)) & _M
            t2l = lo & _M
            hh = gh
            hl = gl
            gh = fh
            gl = fl
            fh = eh
            fl = el
            lo = dl + t1l
            eh, el = (dh + t1h + (lo >> 16)) & _M, lo & _M
            dh = ch
            dl = cl
            ch = bh
            cl = bl
            bh = ah
            bl = al
            lo = t1l + t2l
            ah, al = (t1h + t2h + (lo >> 16)) & _M, lo & _M
        lo = sl[0] + al
        sh[0] = (sh[0] + ah + (lo >> 16)) & _M
        sl[0] = lo & _M
        lo = sl[1] + bl
        sh[1] = (sh[1] + bh + (lo >> 16)) & _M
        sl[1] = lo & _M
        lo = sl[2] + cl
        sh[2] = (sh[2] + ch + (lo >> 16)) & _M
        sl[2] = lo & _M
        lo = sl[3] + dl
        sh[3] = (sh[3] + dh + (lo >> 16)) & _M
        sl[3] = lo & _M
        lo = sl[4] + el
        sh[4] = (sh[4] + eh + (lo >> 16)) & _M
        sl[4] = lo & _M
        lo = sl[5] + fl
        sh[5] = (sh[5] + fh + (lo >> 16)) & _M
        sl[5] = lo & _M
        lo = sl[6] + gl
        sh[6] = (sh[6] + gh + (lo >> 16)) & _M
        sl[6] = lo & _M
        lo = sl[7] + hl
        sh[7] = (sh[7] + hh + (lo >> 16)) & _M
        sl[7] = lo & _M

    def digest(self):
        """The digest of what was fed so far (this object can still be updated)."""
        saved = (self._hh[:], self._hl[:], bytearray(self._buf), self._fill, self._len)
        bits = self._len * 8
        pad = bytearray(b"\x80" + b"\x00" * ((55 - self._fill) % 64))
        for i in range(7, -1, -1):
            pad.append((bits >> (8 * i)) & 0xFF)
        self.update(pad)
        out = bytearray(32)
        for i in range(8):
            out[4 * i] = self._hh[i] >> 8
            out[4 * i + 1] = self._hh[i] & 0xFF
            out[4 * i + 2] = self._hl[i] >> 8
            out[4 * i + 3] = self._hl[i] & 0xFF
        self._hh, self._hl, self._buf, self._fill, self._len = saved
        return bytes(out)
