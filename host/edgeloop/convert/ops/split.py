"""SPLIT, SPLIT_V and UNPACK (int8 and int16), host half: TFLM's split / split_v / unpack Prepare.

All three copy the input's bytes out, unchanged (TFLM's int8 kernels do not
requantize): seen as [OUTER, dim(axis) * INNER], each output takes the next
SIZE bytes of every row -- CONCATENATION backwards (int16: two bytes a value). UNPACK is a split into
dim(axis) pieces of one element along the axis, which its outputs drop.
Several outputs are several arena tensors in the params, nothing more.
Params: edgeloop_fw/runtime/opspec.py ("split").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan
from .common import axis_of, constant_ints, value_width

SPLIT, SPLIT_V, UNPACK = 49, 102, 88


def prepare(ctx: Context) -> OpPlan:
    code = ctx.op.opcode
    if code == SPLIT:
        x = ctx.tensor(1)
        axes = constant_ints(ctx, ctx.tensor(0), "the axis")
    elif code == SPLIT_V:
        x = ctx.tensor(0)
        axes = constant_ints(ctx, ctx.tensor(2), "the axis")
    else:
        x = ctx.tensor(0)
        axes = [ctx.op.options.int32(1)]
    width = value_width(ctx, x, "input")
    if x.is_constant:
        raise ctx.refuse("splitting a constant is not supported; fold it in the converter")
    if len(axes) != 1:
        raise ctx.refuse(f"the axis {axes} is not one value")
    dims = [int(d) for d in x.shape]
    axis = axis_of(ctx, axes[0], len(dims))
    outer = int(np.prod(dims[:axis], dtype=np.int64))
    inner = int(np.prod(dims[axis + 1:], dtype=np.int64)) * width  # bytes
    ys = [ctx.tensor(i, outputs=True) for i in range(len(ctx.op.outputs))]
    units = []
    for i, y in enumerate(ys):
        if value_width(ctx, y, f"output {i}") != width:
            raise ctx.refuse(f"output {i} is {y.dtype}, the input {x.dtype}; a split copies values of one type")
        if code == UNPACK:
            along = 1
            want = dims[:axis] + dims[axis + 1:]
        else:
            along = int(y.shape[axis]) if len(y.shape) == len(dims) else -1
            want = dims[:axis] + [along] + dims[axis + 1:]
        if list(y.shape) != want:
            raise ctx.refuse(f"output {i} {list(y.shape)} is not a piece of the input {dims} along axis {axis}")
        units.append((Arena(y.index), along * inner))
    if sum(s for _y, s in units) != dims[axis] * inner:
        raise ctx.refuse(f"the outputs do not add up to the input {dims} along axis {axis}")
    params = pack("split", outer=outer, input=Arena(x.index), n_outputs=len(ys), outputs=units)
    return OpPlan(params, reads=[x.index], writes=[y.index for y in ys])
