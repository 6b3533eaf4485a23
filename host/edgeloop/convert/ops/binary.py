"""Operands of the two-input element-wise ops (SUB, MUL, MAXIMUM/MINIMUM, PRELU), shared by their host halves.

TFLM runs these with broadcasting (a size-1 dimension repeats); edgeloop
plans it as ADD does, per-dimension strides over the 4-D output, 0 where an
input repeats. One input may be a constant (x - c, x * c, a PReLU's alpha):
the kernel reads it from the model file into this op's scratch before the
loop, so it costs arena only while the op runs. Both constant would be a
constant-folding miss of the converter; that is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Arena, Const, Context, Scratch
from .add import broadcast_strides
from .wide import need_int16


@dataclass
class Binary:
    a: object  # tflite.Tensor
    b: object
    y: object
    fields: dict  # n, broadcast, input1, input2, output, const, const_size, const_to, dims, strides1, strides2
    reads: list[int]
    scratch: int


def operands(ctx: Context, second: str = "second input", wide: bool = False,
             wide_second: bool | None = None) -> Binary:
    """`wide`: int16 tensors (the 16x8 kernels), all three unless `wide_second` says otherwise
    for the second input (int16 PRELU's alpha is int8). A constant int16 operand goes to the
    file as little-endian int16 and CONST_SIZE counts its bytes; N, strides and dims stay in
    elements."""
    a, b, y = ctx.tensor(0), ctx.tensor(1), ctx.tensor(0, outputs=True)
    if wide_second is None:
        wide_second = wide
    for t, role, w in ((a, "first input", wide), (b, second, wide_second), (y, "output", wide)):
        if w:
            need_int16(ctx, t, role)
        else:
            ctx.need_int8(t, role)
        if t.per_channel:
            raise ctx.refuse(f"{role} '{t.name}' is quantized per channel; {ctx.op.name} takes one scale per tensor")
    if a.is_constant and b.is_constant:
        raise ctx.refuse("both inputs are constants (the converter should have folded this op)")
    if len(y.shape) > 4 or len(a.shape) > 4 or len(b.shape) > 4:
        raise ctx.refuse(f"{ctx.op.name} of rank {max(len(y.shape), len(a.shape), len(b.shape))} "
                         "is not supported (up to 4-D)")
    out4 = (1,) * (4 - len(y.shape)) + tuple(y.shape)
    for t in (a, b):
        t4 = (1,) * (4 - len(t.shape)) + tuple(t.shape)
        if any(d not in (1, o) for d, o in zip(t4, out4)):
            raise ctx.refuse(f"input {list(t.shape)} does not broadcast to the output {list(y.shape)}")
    const, const_size, const_to, scratch = 0, 0, 0, 0
    where = []
    for t in (a, b):
        if t.is_constant:
            data = np.ascontiguousarray(t.data, dtype="<i2" if t.dtype == "int16" else np.int8).tobytes()
            const, const_size, const_to, scratch = Const(data), len(data), Scratch(), len(data)
            where.append(Scratch())
        else:
            where.append(Arena(t.index))
    n = int(np.prod(y.shape, dtype=np.int64))
    broadcast = int(tuple(a.shape) != tuple(y.shape) or tuple(b.shape) != tuple(y.shape))
    fields = dict(n=n, broadcast=broadcast, input1=where[0], input2=where[1], output=Arena(y.index),
                  const=const, const_size=const_size, const_to=const_to, dims=out4,
                  strides1=broadcast_strides(a.shape, out4), strides2=broadcast_strides(b.shape, out4))
    reads = [t.index for t in (a, b) if not t.is_constant]
    return Binary(a, b, y, fields, reads, scratch)
