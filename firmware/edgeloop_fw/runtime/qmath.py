"""TFLM's integer requantization, bit for bit, without big integers on the board.

A 32-bit MicroPython or CircuitPython keeps integers below 2**30 in magnitude
inside the object word ("small ints"); anything larger is a heap object, and
some CircuitPython builds have no long ints at all. TFLM's
MultiplyByQuantizedMultiplier multiplies an int32 accumulator by a multiplier
of up to 2**31 - 1 in 64 bits, so computed naively every output byte would
allocate. `mbqm` instead takes the multiplier split on the host into three
limbs (`split`) and splits the accumulator itself into two 15-bit limbs; every
intermediate value then stays below 2**30 in magnitude (the bounds are worked
out next to each line), so an inference allocates nothing.

`srdhm`, `rdbpot` and `mbqm_wide` are the same functions on unbounded
integers: the host uses them to build tables (they do allocate on a board).
They mirror gemmlowp's SaturatingRoundingDoublingHighMul / RoundingDivideByPOT
in the default double-rounding build that the tflite-micro package uses. C's
division truncates toward zero while Python's >> floors, which is why
negatives take their own branch.
"""

from . import const

_NUDGE = 0x40000000  # 1 << 30 (a heap object on a 32-bit board: host-side helpers only)
_SMALL = const(0x3FFFFFFF)  # the largest small int on a 32-bit MicroPython port
_LIMB = const(0x7FFF)
INT32_MIN = -2147483648
INT32_MAX = 2147483647


def split(multiplier):
    """The multiplier (0 <= m < 2**31) as limbs (m0, m1, m2): m = m2 * 2**30 + m1 * 2**15 + m0.

    m0 and m1 are balanced, in [-2**14, 2**14), so a product with a 15-bit
    limb of the accumulator stays below 2**29 and two of them add up below
    2**30; m2 is 0, 1 or 2. Runs on the host, once per multiplier.
    """
    if not 0 <= multiplier <= INT32_MAX:
        raise ValueError("multiplier %d is outside [0, 2**31)" % multiplier)
    m0 = ((multiplier + 0x4000) & _LIMB) - 0x4000
    rest = (multiplier - m0) >> 15
    m1 = ((rest + 0x4000) & _LIMB) - 0x4000
    return m0, m1, (rest - m1) >> 15


def mbqm(x, m0, m1, m2, shift):
    """tflite::MultiplyByQuantizedMultiplier(x, m, shift) with m given as split(m).

    Allocation-free whenever |x| (or |x << shift| for a left shift) is below
    2**30; anything larger -- never an int8 layer TFLM can run without its own
    int32 overflow -- takes the exact wide path. Six locals and a stack of at
    most four keep the frame within the 11 slots MicroPython puts on the C
    stack on ports without a Python stack (a larger frame is heap-allocated
    for every call).
    """
    if shift > 0:
        if x > (_SMALL >> shift) or x < -(_SMALL >> shift):
            return mbqm_wide(x, (((m2 << 15) + m1) << 15) + m0, shift)
        x <<= shift
        shift = 0
    elif x > _SMALL or x < -_SMALL:
        return mbqm_wide(x, (((m2 << 15) + m1) << 15) + m0, shift)
    # SaturatingRoundingDoublingHighMul(x, m) for m >= 0: gemmlowp adds 2**30 (1 - 2**30
    # for a negative product) and C truncates toward zero; both cases are
    # floor((x m + 2**30) / 2**31). x is split into x >> 15 (signed, |.| <= 2**15) and
    # x & 0x7FFF; the columns of x * m in base 2**15 carry upwards with floor shifts.
    k = (x & _LIMB) * m0  # |.| < 2**29
    k = (x & _LIMB) * m1 + (x >> 15) * m0 + (k >> 15)  # each product <= 2**29, |sum| <= 2**30 - 2**15
    k = (x & _LIMB) * m2 + (x >> 15) * m1 + 1 + (k >> 15)  # the 1 is the 2**30 nudge; |.| < 2**29 + 2**17
    k = (k >> 1) + (((x >> 15) * m2) << 14)  # floor(. / 2**31); (x >> 15) * m2 << 14 in [-2**30, 2**30)
    if shift:  # RoundingDivideByPOT: half away from zero, symmetric, so on the magnitude
        shift = -shift
        if k < 0:
            k = -k
            return -((k >> shift) + ((k >> (shift - 1)) & 1))
        return (k >> shift) + ((k >> (shift - 1)) & 1)
    return k


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2**31), saturated."""
    if a == b and a == INT32_MIN:
        return INT32_MAX
    ab = a * b
    if ab >= 0:
        return (ab + _NUDGE) >> 31
    return -((_NUDGE - 1 - ab) >> 31)  # C: (ab + 1 - 2**30) / 2**31, toward zero


def rdbpot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2**exponent rounded half away from zero."""
    if exponent == 0:
        return x
    mask = (1 << exponent) - 1
    threshold = mask >> 1
    if x < 0:
        threshold += 1
    r = x >> exponent
    if (x & mask) > threshold:
        r += 1
    return r


def mbqm_wide(x, multiplier, shift):
    """tflite::MultiplyByQuantizedMultiplier(x, multiplier, shift) on unbounded ints."""
    if shift > 0:
        return srdhm(x << shift, multiplier)
    return rdbpot(srdhm(x, multiplier), -shift)


def mbqm64(acc, reduced, total_shift):
    """tflite::MultiplyByQuantizedMultiplier for an int64 accumulator (the 16x8 kernels).

    TFLM rounds the multiplier to 16 bits (`reduced`, host-computed, <= 0x7FFF) and
    computes (acc * reduced + 2**(total_shift-1)) >> total_shift, total_shift = 15 - shift
    in [8, 46], C's arithmetic shift on int64. For |acc| <= 2**30 this is done in small
    ints, allocation-free: acc * reduced = A * 2**15 + B with A = (acc >> 15) * reduced and
    B = (acc & 0x7FFF) * reduced, each below 2**30 in magnitude.
    - total_shift >= 16: the rounding term folds into A; then floor((v + 2**(s-1)) / 2**s)
      with v = A + (B >> 15), s = total_shift - 15, halved once so it stays below 2**30.
      Exact.
    - total_shift < 16 (a multiplier of 1/2 or more): the result is A * 2**k + the rounded
      B / 2**total_shift, k = 15 - total_shift. Exact while |A| < 2**(29-k); beyond, the
      true value is past +-2**28 and +-(2**30 - 1) is returned: every caller clamps to
      int16 next, so the bytes are TFLM's.
    Larger accumulators take the plain formula on Python's exact ints (allocating on a
    32-bit port)."""
    if -_SMALL - 1 <= acc <= _SMALL:
        a = (acc >> 15) * reduced
        if total_shift >= 16:
            a += ((acc & _LIMB) * reduced) >> 15
            if total_shift == 16:
                return (a >> 1) + (a & 1)
            return ((a >> 1) + (1 << (total_shift - 17))) >> (total_shift - 16)
        k = 15 - total_shift
        if a >= (1 << (29 - k)):
            return _SMALL
        if a < -(1 << (29 - k)):
            return -_SMALL
        return (a << k) + (((acc & _LIMB) * reduced + (1 << (total_shift - 1))) >> total_shift)
    return (acc * reduced + (1 << (total_shift - 1))) >> total_shift
