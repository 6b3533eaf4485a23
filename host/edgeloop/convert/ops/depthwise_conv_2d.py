"""DEPTHWISE_CONV_2D, host half: TFLM's DepthwiseConv Prepare for int8 per-channel.

Params:
  0 BATCHES, 1 IN_H, 2 IN_W, 3 IN_C, 4 OUT_H, 5 OUT_W, 6 OUT_C, 7 DEPTH_MULTIPLIER,
  8 FILTER_H, 9 FILTER_W, 10 STRIDE_H, 11 STRIDE_W, 12 DILATION_H, 13 DILATION_W,
  14 PAD_H, 15 PAD_W, 16 INPUT (arena), 17 OUTPUT (arena),
  18 WEIGHTS (file: int8 [OUT_C, FILTER_H, FILTER_W], one channel contiguous),
  19 SCRATCH (arena, FILTER_H*FILTER_W bytes), 20 INPUT_OFFSET, 21 OUTPUT_OFFSET,
  22 ACT_MIN, 23 ACT_MAX,
  24 + 3*c: BIAS[c], OUTPUT_MULTIPLIER[c], OUTPUT_SHIFT[c],
  then the multipliers' limbs (quant.limb_tail: STEP, m0, m1, m2, ...).

TFLite stores the filter as [1, H, W, OUT_C]; it is transposed here so the
board reads one channel's taps with a single readinto.
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
    params = [n, ih, iw, ic, oh, ow, oc, dm, fh, fw, sh, sw, dh, dw, ph, pw,
              Arena(x.index), Arena(y.index), Const(weights.tobytes()), Scratch(),
              -ctx.zero_point(x), ctx.zero_point(y), lo, hi]
    for c in range(oc):
        params += [int(bias[c]), mults[c][0], mults[c][1]]
    params += limb_tail(mults)
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=fh * fw,
                  macs=n * oh * ow * oc * fh * fw, acc_bound=acc_bound(bias, weights, -ctx.zero_point(x)))
