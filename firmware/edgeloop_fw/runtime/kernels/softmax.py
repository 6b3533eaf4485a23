"""SOFTMAX, int8 -> int8: TFLM's reference_ops::Softmax (gemmlowp fixed point), allocation-free.

TFLM sums exp(x - max) in Q12.19, takes one reciprocal of the sum by
Newton-Raphson (GetReciprocal / one_over_one_plus_x_for_x_in_0_1) and scales
each exp by it. The exp values come from the host as a table indexed by
max - x (edgeloop/convert/ops/softmax.py), read into this op's scratch. Their
Q0.31 values and the reciprocal's reach 2**31, beyond a 32-bit board's small
ints, so here they live as limbs: the sum needs only the table's top bits,
the reciprocal runs on (hi, lo) pairs with 15-bit lo kept in this op's
register params, and the per-element product uses 11-bit limbs whose column
sums stay below 2**24. Every step is gemmlowp's integer arithmetic, so the
bytes equal TFLM's.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
OUTER = const(0)
DEPTH = const(1)
INPUT = const(2)
OUTPUT = const(3)
TABLE = const(4)
COUNT = const(5)
SCRATCH = const(6)
REGS = const(7)
# --- end generated ---


def bind(p, arena):
    """The scratch view the exp table is read into, made once at load."""
    s = p[SCRATCH]
    return arena[s:s + 4 * p[COUNT]]


def eval(p, arena, model, t=None):
    if t is None:
        t = bind(p, arena)
    model.read_const(p[TABLE], t)
    depth = p[DEPTH]
    count = p[COUNT]
    for i in range(p[OUTER]):
        x0 = p[INPUT] + i * depth
        y0 = p[OUTPUT] + i * depth
        top = -128
        for c in range(x0, x0 + depth):
            if arena[c] > top:
                top = arena[c]
        total = 0  # sum of RoundingDivideByPOT(exp, 12): Q12.19, below depth * 2**19 < 2**30
        for c in range(x0, x0 + depth):
            k = top - arena[c]
            if k < count:
                j = 4 * k
                b = t[j + 1] & 255
                total += ((t[j + 3] & 255) << 12) + ((t[j + 2] & 255) << 4) + (b >> 4) + ((b >> 3) & 1)
        sh = _reciprocal(p, total) - 13
        s0 = p[REGS]
        s1 = p[REGS + 1]
        s2 = p[REGS + 2]
        for c in range(depth):
            k = top - arena[x0 + c]
            v = -128
            if k < count:
                j = 4 * k
                b = t[j + 1] & 255
                e2 = t[j + 2] & 255
                e0 = (t[j] & 255) + ((b & 7) << 8)  # the exp's 11-bit limbs
                e1 = (b >> 3) + ((e2 & 63) << 5)
                e2 = (e2 >> 6) + ((t[j + 3] & 255) << 2)
                h = _high(s0, s1, s2, e0, e1, e2)
                v = (h >> sh) + ((h >> (sh - 1)) & 1) - 128  # RoundingDivideByPOT(., bits + 23)
                if v > 127:
                    v = 127
            arena[y0 + c] = v


def _reciprocal(p, total):
    """GetReciprocal(total, 12): the scale's 11-bit limbs go to p[REGS..REGS+2]; returns
    num_bits_over_unit + 23, the shift of the final rounding."""
    n = 32  # CountLeadingZeros
    v = total
    while v:
        v >>= 1
        n -= 1
    s = n - 1  # half_denominator = RoundingHalfSum((total << n) - 2**31, One) = total << (n - 1)
    dh = total >> (15 - s)  # total >= 2**19 puts s in [1, 11]
    dl = (total & ((1 << (15 - s)) - 1)) << s
    r = REGS
    _mul(p, r, dh, dl, -30841, 17348)  # half_denominator * -32/17 (-1010580540, Q2.29)
    _add(p, r, 46260, 23130, p[r], p[r + 1])  # + 48/17 (1515870810)
    for _ in range(3):
        _mul(p, r + 2, dh, dl, p[r], p[r + 1])
        _sub(p, r + 2, 16384, 0, p[r + 2], p[r + 3])  # F2 One (2**29) - half_denominator * x
        _mul(p, r + 2, p[r], p[r + 1], p[r + 2], p[r + 3])
        _shl_sat(p, r + 2, p[r + 2], p[r + 3], 2)  # Rescale<2>
        _add(p, r, p[r], p[r + 1], p[r + 2], p[r + 3])
    _shl_sat(p, r, p[r], p[r + 1], 1)  # Rescale<0>(ExactMulByPot<-1>(x)): positive, < 2**31
    hi = p[r]
    lo = p[r + 1]
    p[r] = lo & 2047
    p[r + 1] = (lo >> 11) + ((hi & 127) << 4)
    p[r + 2] = hi >> 7
    return 35 - n


def _high(s0, s1, s2, e0, e1, e2):
    """floor((scale * exp + 2**30) / 2**44) from 11-bit limbs: gemmlowp's
    SaturatingRoundingDoublingHighMul of two non-negative int32 values, >> 13
    (the output's rounding shift is at least 23, so the low 13 bits never matter).
    Column sums stay below 2**24."""
    h = s0 * e1 + s1 * e0 + ((s0 * e0) >> 11)
    h = s0 * e2 + s1 * e1 + s2 * e0 + 256 + (h >> 11)  # 256 * 2**22 is the 2**30 nudge
    h = s1 * e2 + s2 * e1 + (h >> 11)
    return s2 * e2 + (h >> 11)


# int32 values as (hi, lo) pairs: v = hi * 2**15 + lo, 0 <= lo < 2**15.

def _add(r, d, ah, al, bh, bl):
    lo = al + bl
    r[d] = ah + bh + (lo >> 15)
    r[d + 1] = lo & 0x7FFF


def _sub(r, d, ah, al, bh, bl):
    lo = al - bl
    r[d] = ah - bh + (lo >> 15)
    r[d + 1] = lo & 0x7FFF


def _shl_sat(r, d, h, lo, s):
    """gemmlowp SaturatingRoundingMultiplyByPOT<s> for s in 1..15."""
    lim = 1 << (16 - s)  # |v| >= 2**(31 - s) saturates
    if h >= lim:
        r[d] = 0xFFFF
        r[d + 1] = 0x7FFF
    elif h < -lim or (h == -lim and lo == 0):
        r[d] = -0x10000
        r[d + 1] = 0
    else:
        lo <<= s
        r[d] = (h << s) + (lo >> 15)
        r[d + 1] = lo & 0x7FFF


def _mul(r, d, ah, al, bh, bl):
    """gemmlowp SaturatingRoundingDoublingHighMul on pairs: sign times the magnitudes'
    floor((|a| |b| + 2**30 - neg) / 2**31) (C truncates toward zero), in 11-bit limbs."""
    if ah == -0x10000 and bh == -0x10000 and al == 0 and bl == 0:  # INT32_MIN squared
        r[d] = 0xFFFF
        r[d + 1] = 0x7FFF
        return
    neg = 0
    if ah < 0:
        neg = 1
        if al:
            ah = -ah - 1
            al = 0x8000 - al
        else:
            ah = -ah
    if bh < 0:
        neg ^= 1
        if bl:
            bh = -bh - 1
            bl = 0x8000 - bl
        else:
            bh = -bh
    a0 = al & 2047
    a1 = (al >> 11) + ((ah & 127) << 4)
    a2 = ah >> 7  # <= 2**9
    b0 = bl & 2047
    b1 = (bl >> 11) + ((bh & 127) << 4)
    b2 = bh >> 7
    k = a0 * b1 + a1 * b0 + ((a0 * b0 - neg) >> 11)
    k = a0 * b2 + a1 * b1 + a2 * b0 + 256 + (k >> 11)  # 256 * 2**22 is the 2**30 nudge
    m = (k & 2047) >> 9
    k = a1 * b2 + a2 * b1 + (k >> 11)
    m += (k & 2047) << 2
    k = a2 * b2 + (k >> 11)  # the product over 2**31 is k * 2**13 + m
    h = k >> 2
    lo = ((k & 3) << 13) + m
    if neg:
        if lo:
            h = -h - 1
            lo = 0x8000 - lo
        else:
            h = -h
    r[d] = h
    r[d + 1] = lo
