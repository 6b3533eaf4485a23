"""PAD and PADV2 (int8), host half: TFLM's pad Prepare.

TFLM copies input bytes into the middle of the output and fills the rest with
one byte: the output zero point for PAD, PADV2's constant value (which TFLM
requires to share the output's scale and zero point). Paddings must be
constants here (TFLM allows a tensor, but then the output shape is unknown
when the arena is planned). Params: edgeloop_fw/runtime/opspec.py ("pad").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan
from .common import constant_ints, right_align4


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    if x.is_constant:
        raise ctx.refuse("padding a constant is not supported; fold it in the converter")
    rank = len(x.shape)
    pads = constant_ints(ctx, ctx.tensor(1), "the paddings")
    if len(pads) != 2 * rank or any(v < 0 for v in pads):
        raise ctx.refuse(f"paddings {pads} do not fit an input of rank {rank} (two non-negative values a dimension)")
    before, after = pads[0::2], pads[1::2]
    want = [d + b + a for d, b, a in zip(x.shape, before, after)]
    if list(y.shape) != want:
        raise ctx.refuse(f"output {list(y.shape)} is not the padded input {want}")
    value = ctx.zero_point(y)
    c = ctx.tensor(2)
    if c is not None:  # PADV2
        ctx.need_int8(c, "the constant value")
        data = ctx.need_constant(c, "the constant value")
        if (float(np.float32(ctx.scale(c))) != float(np.float32(ctx.scale(y)))
                or ctx.zero_point(c) != ctx.zero_point(y)):
            raise ctx.refuse("the constant value is quantized differently from the output; TFLM's int8 PADV2 "
                             "needs equal scales and zero points")
        value = int(np.asarray(data).reshape(-1)[0])
    params = pack("pad", input=Arena(x.index), output=Arena(y.index), value=value,
                  in_dims=right_align4(ctx, x.shape, "the input"), out_dims=right_align4(ctx, y.shape, "the output"),
                  before=[0] * (4 - rank) + before)
    return OpPlan(params, reads=[x.index], writes=[y.index])
