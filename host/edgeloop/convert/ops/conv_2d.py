"""CONV_2D, host half: TFLM's Conv Prepare for int8 per-channel.

Params: edgeloop_fw/runtime/opspec.py ("conv_2d"); the weights keep TFLite's
own layout.
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import activation_range, limb_tail
from .common import acc_bound, bias_values, channel_multipliers, conv_operands, out_size, padding


def prepare(ctx: Context) -> OpPlan:
    x, w, b, y, filt = conv_operands(ctx)
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
    mults = channel_multipliers(ctx, x, w, y, oc)
    bias = bias_values(ctx, b, oc)
    lo, hi = activation_range(act, ctx.scale(y), ctx.zero_point(y))
    params = pack("conv_2d", batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  filter_h=fh, filter_w=fw, stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw,
                  pad_h=ph, pad_w=pw, input=Arena(x.index), output=Arena(y.index),
                  weights=Const(filt.astype(np.int8).tobytes()), scratch=Scratch(),
                  input_offset=-ctx.zero_point(x), output_offset=ctx.zero_point(y), act_min=lo, act_max=hi,
                  per_channel=[(int(bias[c]), *mults[c]) for c in range(oc)], limbs=limb_tail(mults))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw * ic,
                  macs=n * oh * ow * oc * fh * fw * ic, acc_bound=acc_bound(bias, filt, -ctx.zero_point(x)))
