"""DEPTHWISE_CONV_2D, host half: TFLM's DepthwiseConv Prepare for int8 per-channel.

Params: edgeloop_fw/runtime/opspec.py ("depthwise_conv_2d").

TFLite stores the filter as [1, H, W, OUT_C]; it is transposed here so the
board reads one channel's taps with a single readinto.
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
    if (1, oh, ow, oc) != (1,) + tuple(y.shape[1:]) or y.shape[0] != n:
        raise ctx.refuse(f"output shape {y.shape} does not match the computed ({n}, {oh}, {ow}, {oc})")
    ph, pw = padding(sh, dh, ih, fh, oh), padding(sw, dw, iw, fw, ow)
    mults = channel_multipliers(ctx, x, w, y, oc)
    bias = bias_values(ctx, b, oc)
    lo, hi = activation_range(act, ctx.scale(y), ctx.zero_point(y))
    weights = np.ascontiguousarray(np.transpose(filt.reshape(fh, fw, oc), (2, 0, 1))).astype(np.int8)
    params = pack("depthwise_conv_2d", batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  depth_multiplier=dm, filter_h=fh, filter_w=fw, stride_h=sh, stride_w=sw, dilation_h=dh,
                  dilation_w=dw, pad_h=ph, pad_w=pw, input=Arena(x.index), output=Arena(y.index),
                  weights=Const(weights.tobytes()), scratch=Scratch(),
                  input_offset=-ctx.zero_point(x), output_offset=ctx.zero_point(y), act_min=lo, act_max=hi,
                  per_channel=[(int(bias[c]), *mults[c]) for c in range(oc)], limbs=limb_tail(mults))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw,
                  macs=n * oh * ow * oc * fh * fw, acc_bound=acc_bound(bias, weights, -ctx.zero_point(x)))
