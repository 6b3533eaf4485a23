"""FULLY_CONNECTED, host half: TFLM's FullyConnected Prepare for int8.

Params: edgeloop_fw/runtime/opspec.py ("fully_connected"); DEPTH is TFLM's
accum_depth, UNITS its output_depth.

The bias folds TFLM's input_offset into the bias: sum_d w[c,d] * (x[d] + input_offset)
+ bias[c] equals sum_d w[c,d] * x[d] + (bias[c] + input_offset * sum_d w[c,d])
exactly in integers, which saves the board one addition per MAC. Per-tensor
weights repeat the one multiplier per unit, so the kernel has a single path.
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from .common import acc_bound
from ..quant import (activation_range, conv_multiplier_per_tensor, conv_multipliers_per_channel, limb_tail,
                     quantize_multiplier)


def prepare(ctx: Context) -> OpPlan:
    x, w, b = ctx.tensor(0), ctx.tensor(1), ctx.tensor(2)
    y = ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    weights = ctx.need_constant(w, "the weights")
    if w.dtype != "int8":
        raise ctx.refuse(f"weights '{w.name}' are {w.dtype}; edgeloop needs int8 weights")
    if w.zero_point.size and np.any(w.zero_point != 0):
        raise ctx.refuse(f"weights '{w.name}' have a non-zero zero point; int8 weights must be symmetric")
    if ctx.op.options.int8(1) != 0:
        raise ctx.refuse("shuffled weights format is not supported")
    units, depth = int(weights.shape[0]), int(weights.shape[-1])
    batches = int(np.prod(x.shape)) // depth
    if batches * depth != int(np.prod(x.shape)):
        raise ctx.refuse(f"input {x.shape} is not a whole number of rows of {depth}")
    bias = np.zeros(units, np.int64)
    if b is not None:
        bias = ctx.need_constant(b, "the bias").astype(np.int64).reshape(-1)
    in_off = -ctx.zero_point(x)
    w2 = weights.reshape(units, depth).astype(np.int64)
    bias_eff = bias + in_off * w2.sum(axis=1)
    if w.per_channel:
        mults = conv_multipliers_per_channel(ctx.scale(x), w.scale, ctx.scale(y), units)
    else:
        mults = [quantize_multiplier(conv_multiplier_per_tensor(ctx.scale(x), ctx.scale(w), ctx.scale(y)))] * units
    act_min, act_max = activation_range(ctx.op.options.int8(0), ctx.scale(y), ctx.zero_point(y))
    chunk = min(depth, ctx.chunk_bytes)
    params = pack("fully_connected", batches=batches, depth=depth, units=units, input=Arena(x.index),
                  output=Arena(y.index), weights=Const(weights.astype(np.int8).tobytes()), scratch=Scratch(),
                  chunk=chunk, output_offset=ctx.zero_point(y), act_min=act_min, act_max=act_max,
                  per_unit=[(int(bias_eff[c]), *mults[c]) for c in range(units)], limbs=limb_tail(mults))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=chunk, macs=batches * units * depth,
                  acc_bound=acc_bound(bias_eff, w2))
