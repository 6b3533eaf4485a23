"""SLICE and STRIDED_SLICE (int8 and int16), host half: TFLM's slice / strided_slice Prepare.

Both become one strided copy: per dimension a first index, a step and a
count, worked out here with TFLM's strided_slice_logic (negative indices
wrap, then clamp; begin/end masks take the whole axis in the stride's
direction; a shrink axis keeps one element; `offset` makes END relative to
BEGIN). The board walks the four right-aligned dimensions and never sees a
mask. TFLM's int8 and int16 kernels copy values, so quantization is not touched;
an int16 value's two bytes are the innermost axis (common.with_byte_axis).
Ellipsis and new-axis masks are refused (the converter lowers them; TFLM's
kernel does not read them). Params: edgeloop_fw/runtime/opspec.py ("strided_slice").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan
from .common import constant_ints, right_align4, value_width, with_byte_axis

SLICE = 65


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else lo if v < lo else v


def axis_range(size: int, begin: int, end: int, stride: int, begin_mask: bool, end_mask: bool,
               shrink: bool, offset: bool) -> tuple[int, int]:
    """(first index, count) of one axis: StridedSliceStartForAxis / EndForAxis and the loop condition."""
    start = begin + size if begin < 0 else begin
    start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
    if begin_mask:
        start = 0 if stride > 0 else size - 1
    if shrink:
        stop = start if start >= size else start + 1
    else:
        stop = end + start if offset else end
        stop = stop + size if stop < 0 else stop
        stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
        if end_mask:
            stop = size if stride > 0 else -1
    count = max(0, -(-(stop - start) // stride)) if stride > 0 else max(0, -(-(start - stop) // -stride))
    return start, count


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    width = value_width(ctx, x, "input")
    if value_width(ctx, y, "output") != width:
        raise ctx.refuse(f"input is {x.dtype}, output {y.dtype}; a slice copies values of one type")
    if x.is_constant:
        raise ctx.refuse("slicing a constant is not supported; fold it in the converter")
    dims = [int(d) for d in x.shape]
    rank = len(dims)
    begin = constant_ints(ctx, ctx.tensor(1), "begin")
    if ctx.op.opcode == SLICE:
        size = constant_ints(ctx, ctx.tensor(2), "size")
        if len(begin) != rank or len(size) != rank:
            raise ctx.refuse(f"begin {begin} and size {size} do not fit an input of rank {rank}")
        ranges = []
        for d, b, n in zip(dims, begin, size):
            n = d - b if n == -1 else n
            if b < 0 or n < 0 or b + n > d:
                raise ctx.refuse(f"slice begin {begin} size {size} is outside the input {dims}")
            ranges.append((b, n, 1))
    else:
        end = constant_ints(ctx, ctx.tensor(2), "end")
        strides = constant_ints(ctx, ctx.tensor(3), "strides")
        o = ctx.op.options
        begin_mask, end_mask, ellipsis, new_axis, shrink = (o.int32(k) for k in range(5))
        offset = o.bool(5)
        if ellipsis or new_axis:
            raise ctx.refuse("STRIDED_SLICE with an ellipsis or new-axis mask is not supported "
                             "(TFLM's kernel ignores them); reshape around the slice instead")
        if not len(begin) == len(end) == len(strides) == rank:
            raise ctx.refuse(f"begin {begin}, end {end}, strides {strides} do not fit an input of rank {rank}")
        if 0 in strides:
            raise ctx.refuse(f"strides {strides} hold a zero")
        ranges = []
        for i, (d, b, e, s) in enumerate(zip(dims, begin, end, strides)):
            bit = 1 << i
            first, n = axis_range(d, b, e, s, bool(begin_mask & bit), bool(end_mask & bit), bool(shrink & bit),
                                  offset)
            ranges.append((first, n, s))
    count = int(np.prod([n for _f, n, _s in ranges], dtype=np.int64))
    if count != int(np.prod(y.shape, dtype=np.int64)):
        raise ctx.refuse(f"the slice has {count} elements, the output {list(y.shape)} does not")
    in_strides = [int(np.prod(dims[i + 1:], dtype=np.int64)) for i in range(rank)]
    start = width * sum(f * st for (f, n, _s), st in zip(ranges, in_strides) if n)
    pad = 4 - rank
    right_align4(ctx, dims, "the input")
    counts, steps = with_byte_axis(ctx, [1] * pad + [n for _f, n, _s in ranges],
                                   [0] * pad + [s * st * width for (_f, _n, s), st in zip(ranges, in_strides)],
                                   width, "slice")
    params = pack("strided_slice", input=Arena(x.index), start=start, output=Arena(y.index),
                  counts=counts, steps=steps)
    return OpPlan(params, reads=[x.index], writes=[y.index])
