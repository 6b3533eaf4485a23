"""DEPTHWISE_CONV_2D, 16x8 host half: TFLM's DepthwiseConv Prepare for int16 input, int64 bias.

Params: edgeloop_fw/runtime/opspec.py ("depthwise_conv_2d_16x8"); the weights
laid out per output channel, as the int8 op's.
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import activation_range
from .common import channel_multipliers, out_size, padding
from .conv_2d_16x8 import operands
from .wide import INT16_MAX, INT16_MIN, bias64, units


def prepare(ctx: Context) -> OpPlan:
    x, w, b, y, filt = operands(ctx)
    o = ctx.op.options
    pad_kind, sw, sh = o.int8(0), o.int32(1), o.int32(2)
    dm, act = o.int32(3), o.int8(4)
    dw, dh = o.int32(5, 1), o.int32(6, 1)
    n, ih, iw, ic = x.shape
    _, fh, fw, oc = filt.shape
    if dm == 0 or oc != ic * dm:
        dm = oc // ic
        if oc != ic * dm:
            raise ctx.refuse(f"filter has {oc} channels, not a multiple of the input's {ic}")
    oh, ow = out_size(pad_kind, ih, fh, sh, dh), out_size(pad_kind, iw, fw, sw, dw)
    if tuple(y.shape) != (n, oh, ow, oc):
        raise ctx.refuse(f"output shape {y.shape} does not match the computed ({n}, {oh}, {ow}, {oc})")
    ph, pw = padding(sh, dh, ih, fh, oh), padding(sw, dw, iw, fw, ow)
    lo, hi = activation_range(act, ctx.scale(y), 0, INT16_MIN, INT16_MAX)
    weights = np.ascontiguousarray(np.transpose(filt.reshape(fh, fw, oc), (2, 0, 1))).astype(np.int8)
    params = pack("depthwise_conv_2d_16x8", batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  depth_multiplier=dm, filter_h=fh, filter_w=fw, stride_h=sh, stride_w=sw, dilation_h=dh,
                  dilation_w=dw, pad_h=ph, pad_w=pw, input=Arena(x.index), output=Arena(y.index),
                  weights=Const(weights.tobytes()), scratch=Scratch(), act_min=lo, act_max=hi,
                  per_channel=units(ctx, bias64(ctx, b, oc), channel_multipliers(ctx, x, w, y, oc)))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw,
                  macs=n * oh * ow * oc * fh * fw, acc_bound=1 << 30)
