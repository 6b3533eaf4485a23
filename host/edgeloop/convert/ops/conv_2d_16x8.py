"""CONV_2D, 16x8 host half: TFLM's Conv Prepare for int16 input, int8 per-channel filter, int64 bias.

Params: edgeloop_fw/runtime/opspec.py ("conv_2d_16x8"); geometry as the int8 op's.
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import activation_range
from .common import channel_multipliers, int8_weights, out_size, padding
from .wide import INT16_MAX, INT16_MIN, bias64, need_int16, units


def operands(ctx):
    """(input, filter, bias, output tensors, filter data) of a 16x8 conv-like op."""
    x, w, b = ctx.tensor(0), ctx.tensor(1), ctx.tensor(2)
    y = ctx.tensor(0, outputs=True)
    need_int16(ctx, x, "input")
    need_int16(ctx, y, "output")
    filt = int8_weights(ctx, w)
    if len(x.shape) != 4 or filt.ndim != 4:
        raise ctx.refuse(f"expects 4-D input and filter, got {x.shape} and {filt.shape}")
    return x, w, b, y, filt


def prepare(ctx: Context) -> OpPlan:
    x, w, b, y, filt = operands(ctx)
    o = ctx.op.options
    pad_kind, sw, sh, act = o.int8(0), o.int32(1), o.int32(2), o.int8(3)
    dw, dh = o.int32(4, 1), o.int32(5, 1)
    n, ih, iw, ic = x.shape
    oc, fh, fw, fc = filt.shape
    if fc != ic:
        raise ctx.refuse(f"grouped convolution (filter depth {fc}, input depth {ic}) is not supported")
    oh, ow = out_size(pad_kind, ih, fh, sh, dh), out_size(pad_kind, iw, fw, sw, dw)
    if tuple(y.shape) != (n, oh, ow, oc):
        raise ctx.refuse(f"output shape {y.shape} does not match the computed ({n}, {oh}, {ow}, {oc})")
    ph, pw = padding(sh, dh, ih, fh, oh), padding(sw, dw, iw, fw, ow)
    lo, hi = activation_range(act, ctx.scale(y), 0, INT16_MIN, INT16_MAX)
    params = pack("conv_2d_16x8", batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  filter_h=fh, filter_w=fw, stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw,
                  pad_h=ph, pad_w=pw, input=Arena(x.index), output=Arena(y.index),
                  weights=Const(filt.astype(np.int8).tobytes()), scratch=Scratch(), act_min=lo, act_max=hi,
                  per_channel=units(ctx, bias64(ctx, b, oc), channel_multipliers(ctx, x, w, y, oc)))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw * ic,
                  macs=n * oh * ow * oc * fh * fw * ic, acc_bound=1 << 30)
