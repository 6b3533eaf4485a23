"""The int8 SOFTMAX kernel's limb arithmetic against TFLM's reference_ops::Softmax
written out here on unbounded ints (gemmlowp's reciprocal step by step), over
random rows, input scales and depths up to the kernel's limit.

Models with a softmax are also compared with TFLM itself (test_runtime_speech,
test_ops_keras); this test reaches rows and scales those models never produce.
"""

from array import array

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeloop.convert.ops.softmax import MAX_DEPTH, exp_table
from edgeloop_fw.runtime.kernels import softmax
from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import rdbpot, srdhm
from tests.tools.softmax_reference import INT32_MAX, params_for, sat_shl, tflm_softmax_row

class Consts:
    def __init__(self, data: bytes):
        self.data = data

    def read_const(self, offset, buf):
        buf[:] = array("b", self.data[offset:offset + len(buf)])


def kernel_softmax(rows: list[list[int]], mult: int, left_shift: int, diff_min: int) -> list[int]:
    table = exp_table(mult, left_shift, diff_min)
    depth = len(rows[0])
    n = len(rows) * depth
    scratch = 2 * n
    params = pack("softmax", outer=len(rows), depth=depth, input=0, output=n, table=0, count=len(table),
                  scratch=scratch, regs=[0] * 6, input_multiplier=mult, input_left_shift=left_shift,
                  diff_min=diff_min)
    arena = array("b", [v for r in rows for v in r] + [0] * (n + 4 * len(table)))
    softmax.eval(memoryview(array("i", params)), memoryview(arena), Consts(np.asarray(table, "<i4").tobytes()))
    return list(arena[n:2 * n])


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-3, 2.0), st.integers(1, 40), st.integers(1, 3), st.randoms(use_true_random=False))
def test_softmax_kernel_equals_tflm_formula(scale, depth, n_rows, rnd):
    mult, shift, diff_min = params_for(scale)
    rows = [[rnd.randrange(-128, 128) for _ in range(depth)] for _ in range(n_rows)]
    want = [v for r in rows for v in tflm_softmax_row(r, mult, shift, diff_min)]
    assert kernel_softmax(rows, mult, shift, diff_min) == want


def test_softmax_edge_rows():
    mult, shift, diff_min = params_for(0.1)
    for row in ([127] * 7, [-128] * 7, [127, -128, -128, -128], [0], [5, 5, 4, -128], list(range(-128, 128, 9))):
        assert kernel_softmax([row], mult, shift, diff_min) == tflm_softmax_row(row, mult, shift, diff_min), row


def test_softmax_widest_row_keeps_its_sum_below_small_ints():
    """MAX_DEPTH equal values: the sum of exps is MAX_DEPTH * 2**19 < 2**30."""
    assert MAX_DEPTH * 2**19 < 2**30
    mult, shift, diff_min = params_for(0.05)
    for row in ([3] * MAX_DEPTH, [(i * 37) % 256 - 128 for i in range(MAX_DEPTH)]):
        assert kernel_softmax([row], mult, shift, diff_min) == tflm_softmax_row(row, mult, shift, diff_min)


# The int8 output hides small errors in the steps, so the steps are checked on their own too.

def pair(v: int) -> tuple[int, int]:
    return v >> 15, v & 0x7FFF


def unpair(r, d: int = 0) -> int:
    return r[d] * 32768 + r[d + 1]


@settings(max_examples=3000, deadline=None)
@given(st.integers(-2**31, 2**31 - 1), st.integers(-2**31, 2**31 - 1))
def test_pair_high_mul_equals_srdhm(a, b):
    r = array("i", [0, 0])
    softmax._mul(r, 0, *pair(a), *pair(b))
    assert unpair(r) == srdhm(a, b)


def test_pair_high_mul_edges():
    edges = [-2**31, -2**31 + 1, -1, 0, 1, 2**31 - 1, 2**30, -2**30, 0x7FFF, 0x8000, -0x8000, 1515870810, -1010580540]
    r = array("i", [0, 0])
    for a in edges:
        for b in edges:
            softmax._mul(r, 0, *pair(a), *pair(b))
            assert unpair(r) == srdhm(a, b), (a, b)


@settings(max_examples=1000, deadline=None)
@given(st.integers(-2**31, 2**31 - 1), st.integers(1, 15))
def test_pair_saturating_shift(v, s):
    r = array("i", [0, 0])
    softmax._shl_sat(r, 0, *pair(v), s)
    assert unpair(r) == sat_shl(v, s)


def reference_scale(total: int) -> tuple[int, int]:
    clz = 32 - total.bit_length()
    half = ((total << clz) - 2**31 + INT32_MAX + 1) // 2
    x = 1515870810 + srdhm(half, -1010580540)
    for _ in range(3):
        x = x + sat_shl(srdhm(x, (1 << 29) - srdhm(half, x)), 2)
    return sat_shl(x, 1), 35 - clz


@settings(max_examples=3000, deadline=None)
@given(st.integers(2**19, MAX_DEPTH * 2**19))
def test_reciprocal_of_the_sum_equals_gemmlowp(total):
    r = array("i", [0] * (softmax.REGS + 6))
    shift = softmax._reciprocal(r, total)
    scale = r[softmax.REGS] + (r[softmax.REGS + 1] << 11) + (r[softmax.REGS + 2] << 22)
    assert (scale, shift) == reference_scale(total)


def limbs11(v: int) -> tuple[int, int, int]:
    return v & 2047, (v >> 11) & 2047, v >> 22


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_per_element_product_equals_srdhm_high_bits(scale, e):
    assert softmax._high(*limbs11(scale), *limbs11(e)) == srdhm(scale, e) >> 13


def test_per_element_product_on_exact_ties():
    """scale * e = (k + 1/2) * 2**31: the 2**30 nudge decides."""
    for scale in (2**30, 3 * 2**29, 2**31 - 2):
        for e in (1, 3, 2**13 - 1, 2**13 + 1, 2**31 - 1, 2**30 + 1):
            assert softmax._high(*limbs11(scale), *limbs11(e)) == srdhm(scale, e) >> 13, (scale, e)
