"""Tiny hand-checkable vectors for the kernels and fixed-point helpers added for Keras models.

No TensorFlow needed: each board kernel runs on a hand-made arena under
CPython, and each expected value is worked out in the comment beside it.
The bit-exact proof against TFLM is in test_ops_keras.py; these pin the
rounding rules so a regression names the rule it broke.
"""

from array import array

import pytest

from edgeloop.convert import fixedpoint
from edgeloop.convert.ops.add import broadcast_strides
from edgeloop.convert.ops.lut8 import relu6_table, relu_table, requantize_table
from edgeloop.convert.ops.mean import mean_multiplier
from edgeloop.convert.ops.pool_2d import out_size, pad_before
from edgeloop_fw.runtime.kernels import concatenation, mean, pool_2d
from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split


def run(kernel, params, arena_values):
    arena = memoryview(array("b", arena_values))
    kernel.eval(memoryview(array("i", params)), arena, None)
    return list(arena)


def pool(mode, values, fh, fw, act=(-128, 127)):
    """One 1 x 1 x len(values) x 1 input, one output pixel over a fh x fw window."""
    n = len(values)
    params = pool_params(mode, n, fh, fw, act, out_w=1)
    return run(pool_2d, params, values + [0])[n]


def pool_params(mode, in_w, fh, fw, act, out_w):
    """1 x 1 x in_w x 1 input at 0, output right after it; stride 1, no padding."""
    return pack("pool_2d", mode=mode, batches=1, in_h=1, in_w=in_w, depth=1, out_h=1, out_w=out_w,
                stride_h=1, stride_w=1, filter_h=fh, filter_w=fw, pad_h=0, pad_w=0, act_min=act[0],
                act_max=act[1], input=0, output=in_w)


@pytest.mark.parametrize("values, expected", [
    ([1, 2], 2),        # 3/2 = 1.5 rounds away from zero -> 2
    ([-1, -2], -2),     # -1.5 -> -2 (C: (acc - n/2) / n truncates toward zero)
    ([1, 1, 2], 1),     # 4/3 = 1.33 -> 1
    ([-1, -1, -2], -1), # -1.33 -> -1
    ([127, 127, 126], 127),  # 380/3 = 126.7 -> 127
])
def test_average_pool_rounds_half_away_from_zero(values, expected):
    assert pool(0, values, 1, len(values)) == expected


def test_max_pool_and_its_activation_clamp():
    assert pool(1, [-5, 7, 3], 1, 3) == 7
    assert pool(1, [-5, 7, 3], 1, 3, act=(-128, 4)) == 4  # fused RELU_N1_TO_1-like clamp
    assert pool(1, [-128, -128], 1, 2) == -128


def test_pool_window_is_clipped_at_the_padding():
    # 1x3 input [10, 20, 31], filter 1x2, stride 1, SAME: pad_w = 0 (the odd pixel goes right).
    assert out_size(0, 3, 2, 1) == 3 and pad_before(1, 1, 3, 2, 3) == 0
    params = pool_params(0, 3, 1, 2, (-128, 127), out_w=3)
    # averages: (10+20)/2 = 15, (20+31)/2 = 25.5 -> 26, last window holds 31 alone -> 31
    assert run(pool_2d, params, [10, 20, 31, 0, 0, 0])[3:] == [15, 26, 31]
    # SAME with filter 3 on 5 pixels, stride 2: out 3, total pad (3-1)*2+3-5 = 2 -> 1 before
    assert out_size(0, 5, 3, 2) == 3 and pad_before(2, 1, 5, 3, 3) == 1
    assert out_size(1, 5, 3, 2) == 2  # VALID: (5 + 2 - 3) // 2


def test_mean_multiplier_folds_the_count_like_tflm():
    # s_in == s_out: QuantizeMultiplier(1.0) = (2**30, 1). count 4: shift = floor(log2 4) = 2,
    # multiplier = (2**30 << 2) // 4 = 2**30, output shift = 1 - 2 = -1 -> x * 0.5 * 2**(-1)... = x / 4
    assert mean_multiplier(0.5, 0.5, 4) == (1 << 30, -1)
    # count 3: shift 1, multiplier = 2**31 // 3 = 715827882, shift 0
    assert mean_multiplier(0.5, 0.5, 3) == (715827882, 0)


def test_mean_kernel_averages_and_rounds():
    m, s = mean_multiplier(0.5, 0.5, 4)
    # [1, 2, 3, 5] with zero point 0: 11 / 4 = 2.75 -> 3; output zero point 1 -> 4
    params = pack("mean", outer=1, count=4, inner=1, input=0, output=4, bias=0, multiplier=m, shift=s,
                  output_zp=1, limbs=split(m))
    assert run(mean, params, [1, 2, 3, 5, 0])[4] == 4
    # same values with input zero point 2: bias -8, (11 - 8) / 4 = 0.75 -> 1, + zp 1 -> 2
    params = pack("mean", outer=1, count=4, inner=1, input=0, output=4, bias=-8, multiplier=m, shift=s,
                  output_zp=1, limbs=split(m))
    assert run(mean, params, [1, 2, 3, 5, 0])[4] == 2


def test_concatenation_interleaves_rows():
    # two inputs [2 rows x 1] and [2 rows x 2] -> output rows [a0 b0 b1], [a1 b2 b3]
    params = pack("concatenation", outer=2, output=6, n_inputs=2, inputs=[(0, 1), (2, 2)])
    arena = [1, 2, 10, 11, 12, 13] + [0] * 6
    assert run(concatenation, params, arena)[6:] == [1, 10, 11, 2, 12, 13]


def test_add_broadcast_strides():
    assert broadcast_strides((1, 3, 4, 5), (1, 3, 4, 5)) == [0, 20, 5, 1]  # batch 1 runs once
    assert broadcast_strides((1, 1, 1, 5), (1, 3, 4, 5)) == [0, 0, 0, 1]  # one pixel repeated
    assert broadcast_strides((5,), (1, 3, 4, 5)) == [0, 0, 0, 1]


def test_relu_relu6_requantize_tables():
    # same scale and zero point: RELU is max(x, zp); codes map to themselves above it
    t = relu_table(0.1, -3, 0.1, -3)
    assert t[0] == -3 and t[-3 + 128] == -3 and t[50 + 128] == 50 and t[255] == 127
    # RELU6 at scale 0.05, zp -10: six = round(6 / 0.05) - 10 = 110
    t = relu6_table(0.05, -10)
    assert t[0] == -10 and t[100 + 128] == 100 and t[127 + 128] == 110
    # requantize to half the scale: (x - 0) * 2, saturating at the int8 ends
    t = requantize_table(0.2, 0, 0.1, 0)
    assert t[10 + 128] == 20 and t[100 + 128] == 127 and t[-100 + 128] == -128


def test_fixed_point_logistic_and_tanh_values():
    one = 1 << 27  # 1.0 in Q4.27
    assert fixedpoint.logistic(0) == 1 << 30  # 0.5 in Q0.31
    assert fixedpoint.tanh(0) == 0
    # sigmoid(1) = 0.7310585786, tanh(1) = 0.7615941560, tanh(-2) = -0.9640275801 (to ~1e-6)
    assert abs(fixedpoint.logistic(one) / 2 ** 31 - 0.7310585786) < 2e-6
    assert abs(fixedpoint.logistic(-one) / 2 ** 31 - (1 - 0.7310585786)) < 2e-6
    assert abs(fixedpoint.tanh(one) / 2 ** 31 - 0.7615941560) < 2e-6
    assert abs(fixedpoint.tanh(-2 * one) / 2 ** 31 + 0.9640275801) < 2e-6
    # exp(-1/4) = 0.7788007831 (1672461947 in Q0.31, the barrel shifter's first constant):
    # a quarter in Q4.27 is 2**25, and only the interval polynomial runs (error ~2e-7).
    assert abs(fixedpoint.exp_on_negative_values(-(1 << 25), 4) - 1672461947) < 2 ** 31 * 1e-6
