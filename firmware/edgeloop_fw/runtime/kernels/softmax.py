"""SOFTMAX, int8 -> int8: TFLM's reference_ops::Softmax (gemmlowp fixed point).

exp() of the scaled difference to the row maximum in Q5.26, summed in Q12.19,
then one reciprocal by Newton-Raphson -- every step in fixedpoint.h's integer
arithmetic, so the bytes equal TFLM's. Params: see
edgeloop/convert/ops/softmax.py.
"""

from ..qmath import rdbpot, srdhm

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_INT32_MAX = 2147483647
_ONE_F0 = _INT32_MAX  # FixedPoint<int32, 0>::One() is saturated to the maximum
_ONE_QUARTER = const(1 << 24)  # in Q5.26 (5 integer bits)
_EXP_BARREL = (  # (bit of the remainder in Q5.26, exp(-2**k) in Q0.31)
    (24, 1672461947), (25, 1302514674), (26, 790015084), (27, 290630308),
    (28, 39332535), (29, 720401), (30, 242),
)


def _exp_quarter(a):
    """exp(a) for a in [-1/4, 0), both Q0.31 (exp_on_interval_between_negative_one_quarter_and_0_excl)."""
    x = a + (1 << 28)  # a + 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(srdhm(x4_over_4 + x3, 715827883) + x2, 1)  # 715827883: 1/3
    return 1895147668 + srdhm(1895147668, x + poly)  # 1895147668: exp(-1/8)


def exp_on_negative_values(a):
    """gemmlowp exp_on_negative_values: a in Q5.26 (a <= 0), result in Q0.31."""
    if a == 0:
        return _ONE_F0
    mod = (a & (_ONE_QUARTER - 1)) - _ONE_QUARTER
    result = _exp_quarter(mod << 5)  # Rescale<0>: cannot saturate, |mod| <= 2**24
    remainder = mod - a
    for bit, mult in _EXP_BARREL:
        if remainder & (1 << bit):
            result = srdhm(result, mult)
    return result


def _clz32(x):
    n = 32
    while x:
        x >>= 1
        n -= 1
    return n


def _sat_shl(x, s):
    """SaturatingRoundingMultiplyByPOT with a positive exponent."""
    threshold = (1 << (31 - s)) - 1
    if x > threshold:
        return _INT32_MAX
    if x < -threshold:
        return -_INT32_MAX - 1
    return x << s


def _one_over_one_plus_x(a):
    """gemmlowp one_over_one_plus_x_for_x_in_0_1: a in Q0.31, result in Q0.31."""
    s = a + _ONE_F0  # RoundingHalfSum(a, One()) in 64 bits, C division toward zero
    half_den = (s + 1) // 2 if s >= 0 else -((-s + 1) // 2)
    x = 1515870810 + srdhm(half_den, -1010580540)  # 48/17 - 32/17 * d, Q2.29
    for _ in range(3):
        t = srdhm(half_den, x)
        x = x + _sat_shl(srdhm(x, (1 << 29) - t), 2)
    return _sat_shl(x, 1)


def eval(p, arena, model):
    outer, depth, xin, yout = p[0], p[1], p[2], p[3]
    mult, left_shift, diff_min = p[4], p[5], p[6]
    for i in range(outer):
        x0 = xin + i * depth
        y0 = yout + i * depth
        top = -128
        for c in range(depth):
            v = arena[x0 + c]
            if v > top:
                top = v
        total = 0  # Q12.19
        for c in range(depth):
            d = arena[x0 + c] - top
            if d >= diff_min:
                total += rdbpot(exp_on_negative_values(srdhm(d << left_shift, mult)), 12)
        headroom = _clz32(total)
        bits_over_unit = 12 - headroom
        scale = _one_over_one_plus_x(((total << headroom) - (1 << 31)))
        for c in range(depth):
            d = arena[x0 + c] - top
            if d >= diff_min:
                e = exp_on_negative_values(srdhm(d << left_shift, mult))
                v = rdbpot(srdhm(scale, e), bits_over_unit + 23) - 128
                if v > 127:
                    v = 127
                elif v < -128:
                    v = -128
                arena[y0 + c] = v
            else:
                arena[y0 + c] = -128
