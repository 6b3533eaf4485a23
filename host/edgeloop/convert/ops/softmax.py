"""SOFTMAX, host half: TFLM's SoftmaxPrepare for int8 in, int8 out.

An int8 row's exp() terms depend only on k = max(row) - x in [0, 255], so the
host evaluates TFLM's exp_on_negative_values(MultiplyByQuantizedMultiplier
GreaterThanOne(-k, input_multiplier, input_left_shift)) for every k up to
-diff_min (beyond it TFLM skips the element) and stores the Q0.31 results as a
table in the file; the board reads it into scratch and does only the sum, one
Newton-Raphson reciprocal per row and one product per element, in small-int
limbs (edgeloop_fw/runtime/kernels/softmax.py).

Params: edgeloop_fw/runtime/opspec.py ("softmax"); the table holds exp values
for k = 0..COUNT-1.
"""

from __future__ import annotations

import math

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import srdhm

from ..fixedpoint import exp_on_negative_values
from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import quantize_multiplier_greater_than_one

SCALED_DIFF_INTEGER_BITS = 5
MAX_DEPTH = 2047  # the row's sum of exps in Q12.19 stays below 2**30: a small int on the board


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
    if depth > MAX_DEPTH:
        raise ctx.refuse(f"softmax over {depth} values; edgeloop's int8 softmax takes rows of up to {MAX_DEPTH}")
    table = exp_table(mult, shift, diff_min)
    params = pack("softmax", outer=outer, depth=depth, input=Arena(x.index), output=Arena(y.index),
                  table=Const(np.asarray(table, "<i4").tobytes()), count=len(table), scratch=Scratch(),
                  regs=[0] * 6, input_multiplier=mult, input_left_shift=shift, diff_min=diff_min)
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=4 * len(table), macs=outer * depth)


def exp_table(mult: int, left_shift: int, diff_min: int) -> list[int]:
    """exp(scaled (x - max)) in Q0.31 for x - max = 0, -1, ... down to max(diff_min, -255)."""
    return [exp_on_negative_values(srdhm(-k * (1 << left_shift), mult), SCALED_DIFF_INTEGER_BITS)
            for k in range(min(256, 1 - diff_min))]
