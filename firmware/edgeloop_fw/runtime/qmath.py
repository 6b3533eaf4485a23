"""TFLM's integer requantization, bit for bit, in plain Python integers.

These mirror tflite::MultiplyByQuantizedMultiplier and gemmlowp's
SaturatingRoundingDoublingHighMul / RoundingDivideByPOT (the default,
double-rounding build that the tflite-micro package uses). Python ints are
unbounded, so int32 wrap-around of the C code is reproduced explicitly where
it can happen; C's division truncates toward zero while Python's >> floors,
which is why negatives take their own branch.
"""

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_NUDGE = const(0x40000000)  # 1 << 30
INT32_MIN = -2147483648
INT32_MAX = 2147483647


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


def mbqm(x, multiplier, shift):
    """tflite::MultiplyByQuantizedMultiplier(x, multiplier, shift)."""
    if shift > 0:
        return srdhm(x << shift, multiplier)
    return rdbpot(srdhm(x, multiplier), -shift)
