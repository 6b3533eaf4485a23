"""PAD and PADV2 (int8 and int16), host half: TFLM's pad Prepare.

TFLM copies input bytes into the middle of the output and fills the rest with
one byte: the output zero point for PAD, PADV2's constant value (which TFLM
requires to share the output's scale and zero point). Paddings must be
constants here (TFLM allows a tensor, but then the output shape is unknown
when the arena is planned). TFLM's int16 PAD is the same copy of two-byte
values. Params: edgeloop_fw/runtime/opspec.py ("pad").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan
from .common import constant_ints, right_align4, value_width


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    width = value_width(ctx, x, "input")
    if value_width(ctx, y, "output") != width:
        raise ctx.refuse(f"input is {x.dtype}, output {y.dtype}; PAD copies values of one type")
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
        if c.dtype != x.dtype:
            raise ctx.refuse(f"the constant value is {c.dtype}, the input {x.dtype}")
        data = ctx.need_constant(c, "the constant value")
        if (float(np.float32(ctx.scale(c))) != float(np.float32(ctx.scale(y)))
                or ctx.zero_point(c) != ctx.zero_point(y)):
            raise ctx.refuse("the constant value is quantized differently from the output; TFLM's PADV2 "
                             "needs equal scales and zero points")
        value = int(np.asarray(data).reshape(-1)[0])
    in_dims, out_dims = right_align4(ctx, x.shape, "the input"), right_align4(ctx, y.shape, "the output")
    before = [0] * (4 - rank) + before
    for dims in (in_dims, out_dims, before):
        dims[3] *= width  # the last dimension in bytes (opspec.py)
    params = pack("pad", input=Arena(x.index), output=Arena(y.index), value=value,
                  in_dims=in_dims, out_dims=out_dims, before=before, width=width)
    return OpPlan(params, reads=[x.index], writes=[y.index])
