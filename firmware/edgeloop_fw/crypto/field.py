"""Arithmetic mod p = 2**255 - 19 in plain Python, allocation-free: the portable field level.

An element is an `array('i', 22)` of 12-bit limbs (limb i weighs 2**(12*i)).
Why 12 bits: a MicroPython small int holds 30 bits on a 32-bit port, and
the largest sum of a product, 22 limb products of at most 4111 * 4111, is
below 2**29; so no value in any function here ever becomes a heap-allocated
long int, on any port (the virtual board collects garbage only between REPL
executions, a real board would spend its time collecting).

Every function leaves its result *carried*: limbs 0..20 below 2**12, limb
21 at most 8, so the value is below 2**255 + 2**252 (less than 2p) but not
necessarily fully reduced; `to_bytes` gives the canonical encoding.
`sub` adds 2p, written with limbs of at least 8154 (limb 21: 14), before
subtracting, so no limb goes negative.

The viper level (`viper/field.py`) runs the same limb algorithm as machine
code; both give the same limbs for the same inputs, so the levels can be
mixed. Results may alias inputs (`mul(r, r, r, t)` is a square).
`t` is a 44-entry scratch array for the product's columns.
"""

from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

N = const(22)  # limbs
_M12 = const(0xFFF)
_FOLD = const(9728)  # 2**264 = 19 * 2**9 (mod p)

# 2p with every limb raised by a borrow from the next: limb 0 = 2**12 - 38 + 2**12,
# limbs 1..20 = 2**13 - 2, limb 21 = 15 - 1. Sum = 2**256 - 38 = 2p.
_TWO_P = array("i", [8154] + [8190] * 20 + [14])


def new(value=b""):
    """A field element; from 32 little-endian bytes when given (bit 255 ignored), else 0."""
    r = array("i", bytes(4 * N))
    if value:
        from_bytes(r, value)
    return r


def scratch():
    """The column scratch that `mul` and `sq` need."""
    return array("i", bytes(4 * 44))


def from_bytes(r, b):
    """r = the 255-bit little-endian number in b[0:32] (bit 255 dropped); carried, maybe >= p."""
    for j in range(10):  # 3 bytes -> 2 limbs
        b0 = b[3 * j]
        b1 = b[3 * j + 1]
        b2 = b[3 * j + 2]
        r[2 * j] = b0 | ((b1 & 0xF) << 8)
        r[2 * j + 1] = (b1 >> 4) | (b2 << 4)
    r[20] = b[30] | ((b[31] & 0xF) << 8)
    r[21] = (b[31] & 0x7F) >> 4


def to_bytes(a, out):
    """out[0:32] = the canonical (fully reduced) little-endian encoding of a (carried)."""
    # a < 2p, so a >= p exactly when a + 19 reaches 2**255; then the encoding is a + 19 - 2**255.
    c = 19
    for i in range(21):
        c = (c + a[i]) >> 12
    c = (c + a[21]) >> 3  # 1 when a >= p
    c *= 19
    lo = 0
    for j in range(11):
        i = 2 * j
        c += a[i]
        x = c & _M12
        c >>= 12
        c += a[i + 1]
        if i + 1 == 21:
            x |= (c & 7) << 12  # limb 21 keeps 3 bits; the fold of 2**255 drops bit 255
        else:
            x |= (c & _M12) << 12
        c >>= 12
        # x: 24 bits, bytes 3j .. 3j+2 (the last group has only 2 bytes)
        out[3 * j] = x & 0xFF
        out[3 * j + 1] = (x >> 8) & 0xFF
        if j < 10:
            out[3 * j + 2] = x >> 16
    return out


def _carry(r, c):
    """Finish a result whose limbs 0..20 are below 2**12 and whose limb 21 (with its
    incoming carry) is c: fold what lies at 2**255 and above into limb 0 as * 19."""
    r[21] = c & 7
    c = (c >> 3) * 19
    for i in range(21):
        if not c:
            return
        c += r[i]
        r[i] = c & _M12
        c >>= 12
    r[21] += c


def add(r, a, b):
    """r = a + b."""
    c = 0
    for i in range(21):
        c += a[i] + b[i]
        r[i] = c & _M12
        c >>= 12
    _carry(r, c + a[21] + b[21])


def sub(r, a, b):
    """r = a - b (computed as a + 2p - b)."""
    c = 0
    p = _TWO_P
    for i in range(21):
        c += a[i] + p[i] - b[i]
        r[i] = c & _M12
        c >>= 12
    _carry(r, c + a[21] + p[21] - b[21])


def mul(r, a, b, t):
    """r = a * b; t is the scratch from `scratch()`."""
    for k in range(43):
        t[k] = 0
    for i in range(N):
        ai = a[i]
        if ai:
            for j in range(N):
                t[i + j] += ai * b[j]
    _reduce(r, t)


def sq(r, a, t):
    """r = a * a."""
    for k in range(43):
        t[k] = 0
    for i in range(N):
        ai = a[i]
        if ai:
            t[2 * i] += ai * ai
            ai += ai
            for j in range(i + 1, N):
                t[i + j] += ai * a[j]
    _reduce(r, t)


def _reduce(r, t):
    """r = the 43 column sums in t (each below 2**29), reduced to a carried element."""
    c = 0
    for k in range(43):  # columns -> 12-bit limbs 0..43
        c += t[k]
        t[k] = c & _M12
        c >>= 12
    t[43] = c
    c = 0
    for i in range(21):  # fold limbs 22..43 (weight 2**264 = 9728)
        c += t[i] + _FOLD * t[i + 22]
        r[i] = c & _M12
        c >>= 12
    _carry(r, c + t[21] + _FOLD * t[43])
