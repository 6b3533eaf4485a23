"""Fixed-point requantization: hand-checkable vectors (one comment per row, as TFLM's
tests), and the board's limb arithmetic against TFLM's formula on unbounded ints.

The reference (`tflm_*` below) is written here from gemmlowp's C, independently
of qmath: int64 product, nudge, division truncating toward zero.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeloop.convert.quant import activation_range, quantize_multiplier, tflite_round
from edgeloop_fw.runtime.qmath import mbqm, mbqm_wide, rdbpot, split, srdhm

M_HALF = 1 << 30  # 0.5 in Q0.31
SMALL = (1 << 30) - 1  # the largest small int of a 32-bit MicroPython


def tflm_srdhm(a: int, b: int) -> int:
    if a == b == -2**31:
        return 2**31 - 1
    ab = a * b
    n = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    q = abs(n) // 2**31  # C division truncates toward zero
    return q if n >= 0 else -q


def tflm_rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def tflm_mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return tflm_rdbpot(tflm_srdhm(x * (1 << left), m), right)


class Small(int):
    """An int that fails the test the moment an operation leaves MicroPython's small-int range."""

    def _check(self, v):
        assert -2**30 <= v <= SMALL, f"intermediate {v} would be a heap-allocated int on a 32-bit board"
        return Small(v)

    def __add__(self, o): return self._check(int(self) + int(o))
    def __radd__(self, o): return self._check(int(o) + int(self))
    def __sub__(self, o): return self._check(int(self) - int(o))
    def __rsub__(self, o): return self._check(int(o) - int(self))
    def __mul__(self, o): return self._check(int(self) * int(o))
    def __rmul__(self, o): return self._check(int(o) * int(self))
    def __lshift__(self, o): return self._check(int(self) << int(o))
    def __rshift__(self, o): return self._check(int(self) >> int(o))
    def __and__(self, o): return self._check(int(self) & int(o))
    def __rand__(self, o): return self._check(int(o) & int(self))
    def __neg__(self): return self._check(-int(self))


def limb_mbqm(x: int, m: int, shift: int) -> int:
    return mbqm(Small(x), *(Small(v) for v in split(m)), shift)


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
    assert srdhm(a, b) == want == tflm_srdhm(a, b)


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
    assert rdbpot(x, e) == want == tflm_rdbpot(x, e)


@pytest.mark.parametrize("x,m,shift,want", [
    (1000, M_HALF, 0, 500),       # * 0.5
    (1000, M_HALF, -1, 250),      # * 0.25
    (1000, M_HALF, 1, 1000),      # * 0.5 * 2
    (-1001, M_HALF, -2, -125),    # -1001 * 0.125 = -125.125 -> -125
    (3, M_HALF, -1, 1),           # 0.75: srdhm gives 2 (1.5 rounded), /2 -> 1
    (-3, M_HALF, 0, -1),          # -1.5: srdhm's negative nudge -> -1
    (-3, M_HALF, -1, -1),         # -0.75: srdhm -1, then -0.5 rounds away from zero -> -1
    (SMALL, 2**31 - 1, 0, SMALL),  # the largest small accumulator times ~1.0
    (-SMALL, 2**31 - 1, -31, 0),  # shifted all the way out
    (7, 0, 0, 0),                 # a zero multiplier (TFLM's answer for tiny scales)
])
def test_multiply_by_quantized_multiplier(x, m, shift, want):
    assert limb_mbqm(x, m, shift) == want == mbqm_wide(x, m, shift) == tflm_mbqm(x, m, shift)


@pytest.mark.parametrize("m", [0, 1, 0x3FFF, 0x4000, 0x7FFF, 0x8000, 2**30 - 1, 2**30, 2**30 + 0x3FFF,
                               2**30 + 0x4000, 2**31 - 0x4000, 2**31 - 1])
def test_split_is_exact_and_balanced(m):
    m0, m1, m2 = split(m)
    assert m2 * 2**30 + m1 * 2**15 + m0 == m
    assert -2**14 <= m0 < 2**14 and -2**14 <= m1 < 2**14 and m2 in (0, 1, 2)


def test_split_refuses_what_tflm_never_makes():
    for bad in (-1, 2**31):
        with pytest.raises(ValueError):
            split(bad)


EDGE_X = [0, 1, -1, 2, -2, 0x7FFF, 0x8000, -0x8000, -0x8001, 0xFFFF, 0x10000, SMALL, -SMALL, SMALL - 1,
          -(SMALL - 1), 2**29, -2**29, 12345678, -12345678]
EDGE_M = [0, 1, 2**30, 2**30 + 1, 2**31 - 1, 2**31 - 2, 0x40004000, 0x7FFFC000, 0x7FFF8000, 0x55555555,
          1518500250, 1073741823]


@pytest.mark.parametrize("m", EDGE_M)
def test_limbs_equal_tflm_on_edge_accumulators_and_every_shift(m):
    bad = [(x, s) for x in EDGE_X for s in range(-31, 1) if limb_mbqm(x, m, s) != tflm_mbqm(x, m, s)]
    assert not bad, bad[:10]


def test_limbs_equal_tflm_on_exact_ties():
    """a * m = (k + 1/2) * 2**31 exactly: the nudge for negatives decides the result."""
    for x in range(-255, 256):
        for m in (2**30, 3 * 2**29):
            for s in (0, -1, -2, -7):
                assert limb_mbqm(x, m, s) == tflm_mbqm(x, m, s), (x, m, s)


@settings(max_examples=3000, deadline=None)
@given(st.integers(-SMALL, SMALL), st.integers(0, 2**31 - 1), st.integers(-31, 0))
def test_limbs_equal_tflm_right_shift(x, m, shift):
    assert limb_mbqm(x, m, shift) == tflm_mbqm(x, m, shift)


@settings(max_examples=1000, deadline=None)
@given(st.integers(-2**20, 2**20), st.integers(2**30, 2**31 - 1), st.integers(1, 9))
def test_limbs_equal_tflm_left_shift(x, m, shift):
    if abs(x << shift) > SMALL:  # beyond: the exact wide path, checked without Small
        assert mbqm(x, *split(m), shift) == tflm_mbqm(x, m, shift)
    else:
        assert limb_mbqm(x, m, shift) == tflm_mbqm(x, m, shift)


@settings(max_examples=300, deadline=None)
@given(st.integers(-2**31, 2**31 - 1), st.integers(0, 2**31 - 1), st.integers(-31, 0))
def test_accumulators_beyond_small_ints_take_the_exact_wide_path(x, m, shift):
    assert mbqm(x, *split(m), shift) == tflm_mbqm(x, m, shift)


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


# ---- the 16x8 kernels' int64 requantization (qmath.mbqm64) ------------------------------------

def tflm_mbqm64(x: int, m: int, shift: int) -> int:
    """TFLM's MultiplyByQuantizedMultiplier(int64_t x, int32_t m, int shift), written from its definition:
    the multiplier rounded to 16 bits (0x7FFF at the top), then a rounding right shift by 15 - shift."""
    reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    return (x * reduced + (1 << (total - 1))) >> total


def mbqm64_args(m: int, shift: int) -> tuple[int, int]:
    from edgeloop.convert.ops.wide import requant64

    _m, _s, reduced, total = requant64(None, m, shift)
    return reduced, total


@pytest.mark.parametrize("x,m,shift,want", [
    (1000, 1 << 30, -1, 250),         # x * 0.5 * 0.5: 16384 * 1000 >> 16 = 250
    (3, 1 << 30, -1, 1),              # 0.75 rounds half up to 1
    (-3, 1 << 30, -1, -1),            # -0.75 -> -1 (floor of -0.75 + 0.5)
    (-2, 1 << 30, -1, 0),             # -0.5 rounds up to 0 (half up, not away from zero)
    (2, 1 << 30, -1, 1),              # 0.5 rounds up to 1
    (1 << 20, 1 << 30, -20, 1),       # 2**20 * 2**-21 = 0.5: (2**34 + 2**34) >> 35 = 1
    (0x7FFF << 15, 0x7FFFFFFF, -31, 0),  # multiplier ~1 reduced to 0x7FFF: 0.4999... * 2**30 / 2**30 -> 0
])
def test_mbqm64_hand_vectors(x, m, shift, want):
    from edgeloop_fw.runtime.qmath import mbqm64

    assert tflm_mbqm64(x, m, shift) == want
    assert mbqm64(x, *mbqm64_args(m, shift)) == want


@settings(max_examples=600, deadline=None)
@given(st.integers(-2**30, 2**30 - 1), st.integers(1 << 30, 2**31 - 1), st.integers(-31, 7))
def test_mbqm64_equals_tflm_through_the_int16_clamp_in_small_ints(x, m, shift):
    from edgeloop_fw.runtime.qmath import mbqm64

    reduced, total = mbqm64_args(m, shift)
    want = tflm_mbqm64(x, m, shift)
    got = mbqm64(Small(x), Small(reduced), total)  # every intermediate a small int
    if total >= 16 or abs(want) < 1 << 28:
        assert got == want
    else:  # a multiplier >= 1/2 on a large accumulator: beyond int16 on the same side, as TFLM
        assert abs(got) >= 1 << 28 and (got > 0) == (want > 0)
    assert max(-32768, min(32767, got)) == max(-32768, min(32767, want))  # the kernels' clamp


@settings(max_examples=200, deadline=None)
@given(st.integers(-2**47, 2**47 - 1), st.integers(1 << 30, 2**31 - 1), st.integers(-31, 7))
def test_mbqm64_beyond_small_ints_is_still_tflm(x, m, shift):
    from edgeloop_fw.runtime.qmath import mbqm64

    got, want = mbqm64(x, *mbqm64_args(m, shift)), tflm_mbqm64(x, m, shift)
    if abs(x) > 2**30:  # the plain formula: exact
        assert got == want
    else:
        assert max(-32768, min(32767, got)) == max(-32768, min(32767, want))
