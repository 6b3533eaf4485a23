"""Fixed-point requantization, with hand-checkable vectors (one comment per row, as TFLM's tests)."""

import pytest

from edgeloop.convert.quant import activation_range, quantize_multiplier, tflite_round
from edgeloop_fw.runtime.qmath import mbqm, rdbpot, srdhm

M_HALF = 1 << 30  # 0.5 in Q0.31


@pytest.mark.parametrize("a,b,want", [
    (M_HALF, M_HALF, 1 << 29),          # 0.5 * 0.5 = 0.25 -> 2**29
    (100, M_HALF, 50),                  # 100 * 0.5 = 50 exactly
    (3, M_HALF, 2),                     # 1.5 rounds half away from zero -> 2
    (-3, M_HALF, -1),                   # -1.5: the nudge is 1 - 2**30, C truncation -> -1 (not -2)
    (-5, M_HALF, -2),                   # -2.5 -> -2 for the same reason
    (1, 1, 0),                          # 2 / 2**31 rounds to 0
    (-2 ** 31, -2 ** 31, 2 ** 31 - 1),  # the one overflow case saturates
])
def test_srdhm(a, b, want):
    assert srdhm(a, b) == want


@pytest.mark.parametrize("x,e,want", [
    (5, 1, 3),      # 2.5 -> 3 (half away from zero)
    (-5, 1, -3),    # -2.5 -> -3
    (7, 2, 2),      # 1.75 -> 2
    (-7, 2, -2),    # -1.75 -> -2
    (6, 2, 2),      # 1.5 -> 2
    (-6, 2, -2),    # -1.5 -> -2
    (5, 0, 5),      # exponent 0 is the identity
])
def test_rounding_divide_by_pot(x, e, want):
    assert rdbpot(x, e) == want


@pytest.mark.parametrize("x,m,shift,want", [
    (1000, M_HALF, 0, 500),       # * 0.5
    (1000, M_HALF, -1, 250),      # * 0.25
    (1000, M_HALF, 1, 1000),      # * 0.5 * 2
    (-1001, M_HALF, -2, -125),    # -1001 * 0.125 = -125.125 -> -125
    (3, M_HALF, -1, 1),           # 0.75: srdhm gives 2 (1.5 rounded), /2 -> 1
])
def test_multiply_by_quantized_multiplier(x, m, shift, want):
    assert mbqm(x, m, shift) == want


@pytest.mark.parametrize("real,want", [
    (0.5, (1 << 30, 0)),          # 0.5 = 2**30 * 2**(0-31)
    (0.25, (1 << 30, -1)),        # one more right shift
    (1.0, (1 << 30, 1)),          # 1 = 0.5 * 2**1
    (0.0, (0, 0)),                # zero stays zero
    (0.75, (3 << 29, 0)),         # 0.75 = 0b11 << 29 in Q0.31
])
def test_quantize_multiplier(real, want):
    assert quantize_multiplier(real) == want


def test_round_is_half_away_from_zero():
    assert [tflite_round(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5)] == [1, 2, 3, -1, -3]


@pytest.mark.parametrize("act,scale,zp,want", [
    (0, 0.1, 0, (-128, 127)),      # NONE: the int8 range
    (1, 0.1, -128, (-128, 127)),   # RELU: zero is the zero point
    (1, 0.1, 10, (10, 127)),       # RELU with zp 10
    (3, 0.1, -128, (-128, -68)),   # RELU6: 6 / 0.1 = 60 -> -128 + 60
    (2, 0.1, 0, (-10, 10)),        # RELU_N1_TO_1
])
def test_activation_range(act, scale, zp, want):
    assert activation_range(act, scale, zp) == want
