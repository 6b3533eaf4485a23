"""SOFTMAX, host half: TFLM's SoftmaxPrepare for int8 in, int8 out.

Params: 0 OUTER (rows), 1 DEPTH (row length), 2 INPUT (arena), 3 OUTPUT (arena),
4 INPUT_MULTIPLIER, 5 INPUT_LEFT_SHIFT, 6 DIFF_MIN -- TFLM's SoftmaxParams.
"""

from __future__ import annotations

import math

import numpy as np

from ..graph import Arena, Context, OpPlan
from ..quant import quantize_multiplier_greater_than_one

SCALED_DIFF_INTEGER_BITS = 5


def input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """tflite::CalculateInputRadius."""
    m = 1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    return int(math.floor(m))


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    if ctx.zero_point(y) != -128 or abs(ctx.scale(y) - 1 / 256) > 0.001 * (1 / 256):
        raise ctx.refuse(f"int8 softmax output must have zero point -128 and scale 1/256 "
                         f"(TFLM's requirement); got {ctx.zero_point(y)} and {ctx.scale(y)}")
    beta = ctx.op.options.float32(0, 0.0)
    depth = int(x.shape[-1])
    outer = int(np.prod(x.shape)) // depth
    # PreprocessSoftmaxScaling, all in double as TFLM does.
    real = min(float(beta) * float(np.float32(ctx.scale(x))) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)),
               float((1 << 31) - 1.0))
    mult, shift = quantize_multiplier_greater_than_one(real)
    diff_min = -input_radius(SCALED_DIFF_INTEGER_BITS, shift)
    return OpPlan([outer, depth, Arena(x.index), Arena(y.index), mult, shift, diff_min],
                  reads=[x.index], writes=[y.index], macs=outer * depth)
