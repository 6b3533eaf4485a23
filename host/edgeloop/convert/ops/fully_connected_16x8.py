"""FULLY_CONNECTED, 16x8 host half: TFLM's FullyConnected Prepare for int16 input, int8 weights.

Params: edgeloop_fw/runtime/opspec.py ("fully_connected_16x8"). Zero points
are 0, so no offset is folded; the int64 bias and the int64 requantization
come from ops/wide.py.
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import activation_range, conv_multiplier_per_tensor, conv_multipliers_per_channel, quantize_multiplier
from .common import int8_weights
from .wide import INT16_MAX, INT16_MIN, bias64, need_int16, units


def prepare(ctx: Context) -> OpPlan:
    x, w, b = ctx.tensor(0), ctx.tensor(1), ctx.tensor(2)
    y = ctx.tensor(0, outputs=True)
    need_int16(ctx, x, "input")
    need_int16(ctx, y, "output")
    weights = int8_weights(ctx, w)
    if ctx.op.options.int8(1) != 0:
        raise ctx.refuse("shuffled weights format is not supported")
    n_units, depth = int(weights.shape[0]), int(weights.shape[-1])
    batches = int(np.prod(x.shape)) // depth
    if batches * depth != int(np.prod(x.shape)):
        raise ctx.refuse(f"input {x.shape} is not a whole number of rows of {depth}")
    bias = bias64(ctx, b, n_units)
    if w.per_channel:
        mults = conv_multipliers_per_channel(ctx.scale(x), w.scale, ctx.scale(y), n_units)
    else:
        mults = [quantize_multiplier(conv_multiplier_per_tensor(ctx.scale(x), ctx.scale(w), ctx.scale(y)))] * n_units
    act_min, act_max = activation_range(ctx.op.options.int8(0), ctx.scale(y), 0, INT16_MIN, INT16_MAX)
    chunk = min(depth, ctx.chunk_bytes)
    params = pack("fully_connected_16x8", batches=batches, depth=depth, units=n_units, input=Arena(x.index),
                  output=Arena(y.index), weights=Const(weights.astype(np.int8).reshape(n_units, depth).tobytes()),
                  scratch=Scratch(), chunk=chunk, act_min=act_min, act_max=act_max,
                  per_unit=units(ctx, bias, mults))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=chunk, macs=batches * n_units * depth,
                  acc_bound=1 << 30)
