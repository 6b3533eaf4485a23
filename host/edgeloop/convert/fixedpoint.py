"""gemmlowp's fixed-point logistic and tanh, as TFLM's int8 kernels call them.

TFLM's int8 LOGISTIC and TANH (reference_integer_ops::Logistic/Tanh) rescale
the input to a Q4.27 value and evaluate gemmlowp::logistic / gemmlowp::tanh
on it: a barrel-shifter exp() of the negative part, then three Newton steps
for 1/(1+x) or (1-x)/(1+x). Only int32 scalars are involved, so the
computation is reproduced here with Python integers, step for step, on the
host. Since the op's input is int8, the host evaluates it for all 256 codes
once and the board only looks the answer up (see ops/lut8.py).

Raw values follow gemmlowp's FixedPoint<int32, IntegerBits>: a raw int32
whose value is raw / 2**(31 - IntegerBits).
"""

from __future__ import annotations

from edgeloop_fw.runtime.qmath import INT32_MAX, INT32_MIN, rdbpot, srdhm


def _sat_mul_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT<exponent> on an int32 raw value."""
    if exponent > 0:
        limit = (1 << (31 - exponent)) - 1
        if x > limit:
            return INT32_MAX
        if x < -limit:
            return INT32_MIN
        return x << exponent
    if exponent < 0:
        return rdbpot(x, -exponent)
    return x


def _exp_on_interval(a: int) -> int:
    """exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31 in and out.

    A 4th-order Taylor series around -1/8; the constants are gemmlowp's
    exp(-1/8) and 1/3 in Q0.31."""
    constant_term = 1895147668
    one_third = 715827883
    x = a + (1 << 28)  # + 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = _sat_mul_pot(x4, -2)
    tail = _sat_mul_pot(srdhm(x4_over_4 + x3, one_third) + x2, -1)
    return constant_term + srdhm(constant_term, x + tail)


# exp(-2**k) in Q0.31, applied for each set bit of the input's magnitude.
_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
           (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) for a <= 0 given with `integer_bits`; result in Q0.31."""
    fractional_bits = 31 - integer_bits
    quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter
    result = _exp_on_interval(_sat_mul_pot(a_mod_quarter_minus_quarter, integer_bits))
    remainder = a_mod_quarter_minus_quarter - a
    for exponent, multiplier in _BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = srdhm(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):  # below -32
        result = 0
    if a == 0:
        result = INT32_MAX
    return result


def _newton_reciprocal(a: int) -> int:
    """The Q2.29 Newton iterate of 1/(1+a) for a in Q0.31 [0, 1), as in
    one_over_one_plus_x_for_x_in_0_1 (and its (1-x)/(1+x) sibling)."""
    total = a + INT32_MAX
    # RoundingHalfSum(a, One): (sum + sign) / 2, C division toward zero.
    half_denominator = (total + 1) // 2 if total >= 0 else -((-total + 1) // 2)
    x = 1515870810 + srdhm(half_denominator, -1010580540)  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half_denominator, x)  # F2::One() - d*x
        x = x + _sat_mul_pot(srdhm(x, one_minus), 2)
    return x


def logistic(a: int) -> int:
    """gemmlowp::logistic on FixedPoint<int32, 4>; returns Q0.31."""
    if a == 0:
        return 1 << 30  # one half
    positive = _sat_mul_pot(_newton_reciprocal(exp_on_negative_values(-abs(a), 4)), 1)
    return positive if a > 0 else INT32_MAX - positive


def tanh(a: int) -> int:
    """gemmlowp::tanh on FixedPoint<int32, 4>; returns Q0.31."""
    if a == 0:
        return 0
    # neg_tanh_on_negative_values: exp of 2*(-|a|), read as Q5.26 (same raw).
    t = _sat_mul_pot(_newton_reciprocal(exp_on_negative_values(-abs(a), 5)) - (1 << 29), 2)
    return -t if a < 0 else t
