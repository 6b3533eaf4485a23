"""TRANSPOSE_CONV, 16x8 host half: TFLM's transpose_conv Prepare for int16 input, int8
per-channel filter, int64 bias.

The int8 op's geometry (ops/transpose_conv.py: padding from the output size) with the
16x8 conv's int64 bias and requantization (ops/wide.py); zero points are 0. TFLM also
takes an int16 bias here (widened to int64); the converter writes int64, and the other
is refused by wide.bias64.

Params: edgeloop_fw/runtime/opspec.py ("transpose_conv_16x8").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import activation_range
from .common import channel_multipliers, constant_ints, int8_weights, out_size, padding
from .wide import INT16_MAX, INT16_MIN, bias64, need_int16, units


def prepare(ctx: Context) -> OpPlan:
    x, w, y = ctx.tensor(2), ctx.tensor(1), ctx.tensor(0, outputs=True)
    b = ctx.tensor(3) if len(ctx.op.inputs) > 3 else None
    need_int16(ctx, x, "input")
    need_int16(ctx, y, "output")
    filt = int8_weights(ctx, w)
    if len(x.shape) != 4 or filt.ndim != 4:
        raise ctx.refuse(f"expects 4-D input and filter, got {x.shape} and {filt.shape}")
    o = ctx.op.options
    pad_kind, sw, sh, act = o.int8(0), o.int32(1), o.int32(2), o.int8(3)
    n, ih, iw, ic = (int(v) for v in x.shape)
    oc, fh, fw, fc = (int(v) for v in filt.shape)
    shape = constant_ints(ctx, ctx.tensor(0), "the output shape")
    if fc != ic:
        raise ctx.refuse(f"filter depth {fc} differs from the input depth {ic}")
    if list(y.shape) != shape or len(shape) != 4 or shape[0] != n or shape[3] != oc:
        raise ctx.refuse(f"output {list(y.shape)} does not match the output shape {shape} "
                         f"for input {list(x.shape)} and {oc} filters")
    oh, ow = shape[1], shape[2]
    ph = padding(sh, 1, oh, fh, out_size(pad_kind, oh, fh, sh))
    pw = padding(sw, 1, ow, fw, out_size(pad_kind, ow, fw, sw))
    lo, hi = activation_range(act, ctx.scale(y), 0, INT16_MIN, INT16_MAX)
    params = pack("transpose_conv_16x8", batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  filter_h=fh, filter_w=fw, stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw,
                  input=Arena(x.index), output=Arena(y.index),
                  weights=Const(filt.astype(np.int8).tobytes()), scratch=Scratch(), act_min=lo, act_max=hi,
                  per_channel=units(ctx, bias64(ctx, b, oc), channel_multipliers(ctx, x, w, y, oc)))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw * ic,
                  macs=n * ih * iw * ic * fh * fw * oc, acc_bound=1 << 30)
