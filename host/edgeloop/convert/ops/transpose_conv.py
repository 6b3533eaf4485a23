"""TRANSPOSE_CONV (int8, per-channel), host half: TFLM's transpose_conv Prepare.

Inputs are TFLite's order: output shape (constant), filter [OUT_C, FILTER_H,
FILTER_W, IN_C], input, optional int32 bias. TFLM computes the padding from
the *output* size (ComputePaddingHeightWidth on out_h/out_w; the odd pixel's
offset is not used) and the per-channel multipliers as for CONV_2D.
Params: edgeloop_fw/runtime/opspec.py ("transpose_conv").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import activation_range, limb_tail
from .common import acc_bound, bias_values, channel_multipliers, constant_ints, int8_weights, out_size, padding


def prepare(ctx: Context) -> OpPlan:
    x, w, y = ctx.tensor(2), ctx.tensor(1), ctx.tensor(0, outputs=True)
    b = ctx.tensor(3) if len(ctx.op.inputs) > 3 else None
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
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
    mults = channel_multipliers(ctx, x, w, y, oc)
    bias = bias_values(ctx, b, oc)
    lo, hi = activation_range(act, ctx.scale(y), ctx.zero_point(y))
    params = pack("transpose_conv", batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc,
                  filter_h=fh, filter_w=fw, stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw,
                  input=Arena(x.index), output=Arena(y.index),
                  weights=Const(filt.astype(np.int8).tobytes()), scratch=Scratch(),
                  input_offset=-ctx.zero_point(x), output_offset=ctx.zero_point(y), act_min=lo, act_max=hi,
                  per_channel=[(int(bias[c]), *mults[c]) for c in range(oc)], limbs=limb_tail(mults))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw * ic,
                  macs=n * ih * iw * ic * fh * fw * oc, acc_bound=acc_bound(bias, filt, -ctx.zero_point(x)))
