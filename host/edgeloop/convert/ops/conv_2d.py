"""CONV_2D, host half: TFLM's Conv Prepare for int8 per-channel.

Params:
  0 BATCHES, 1 IN_H, 2 IN_W, 3 IN_C, 4 OUT_H, 5 OUT_W, 6 OUT_C,
  7 FILTER_H, 8 FILTER_W, 9 STRIDE_H, 10 STRIDE_W, 11 DILATION_H, 12 DILATION_W,
  13 PAD_H, 14 PAD_W, 15 INPUT (arena), 16 OUTPUT (arena),
  17 WEIGHTS (file: int8 [OUT_C, FILTER_H, FILTER_W, IN_C], TFLite's own layout),
  18 SCRATCH (arena, FILTER_H*FILTER_W*IN_C bytes: one output channel's filter),
  19 INPUT_OFFSET, 20 OUTPUT_OFFSET, 21 ACT_MIN, 22 ACT_MAX,
  23 + 3*c: BIAS[c], OUTPUT_MULTIPLIER[c], OUTPUT_SHIFT[c],
  then the multipliers' limbs (quant.limb_tail: STEP, m0, m1, m2, ...).
"""

from __future__ import annotations

import numpy as np

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import activation_range, limb_tail
from .common import acc_bound, bias_values, channel_multipliers, int8_weights, out_size, padding


def prepare(ctx: Context) -> OpPlan:
    x, w, b = ctx.tensor(0), ctx.tensor(1), ctx.tensor(2)
    y = ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    filt = int8_weights(ctx, w)
    if len(x.shape) != 4 or filt.ndim != 4:
        raise ctx.refuse(f"expects 4-D input and filter, got {x.shape} and {filt.shape}")
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
    params = [n, ih, iw, ic, oh, ow, oc, fh, fw, sh, sw, dh, dw, ph, pw,
              Arena(x.index), Arena(y.index), Const(filt.astype(np.int8).tobytes()), Scratch(),
              -ctx.zero_point(x), ctx.zero_point(y), lo, hi]
    for c in range(oc):
        params += [int(bias[c]), mults[c][0], mults[c][1]]
    params += limb_tail(mults)
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw * ic,
                  macs=n * oh * ow * oc * fh * fw * ic, acc_bound=acc_bound(bias, filt, -ctx.zero_point(x)))
