"""STRIDED_SLICE (int8), host half: tflite::reference_ops::StridedSlice as the TRANSPOSE gather.

A Keras LSTM that returns only its last state becomes the whole sequence and a
STRIDED_SLICE taking the last time step. A slice with positive steps moves
bytes and changes no value (input and output share one quantization), so it is
the transpose kernel's walk of at most four extents from a start byte: the
start goes into the input's arena offset, each extent's step is the input
stride times the slice step. The begin/end rules follow TFLite's
strided_slice_logic (negative indices from the end, clamping, the masks);
ellipsis and new axes, the `offset` form and negative steps are refused.
Params: edgeloop_fw/runtime/opspec.py ("transpose").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan

MAX_RANK = 4


def _clamp(v: int, dim: int) -> int:
    return min(max(v + dim if v < 0 else v, 0), dim)


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    if x.is_constant:
        raise ctx.refuse("slicing a constant is not supported; fold it in the converter")
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise ctx.refuse(f"a rank-{rank} slice is not supported (at most {MAX_RANK} axes)")
    begin, end, steps = (
        [int(v) for v in np.asarray(ctx.need_constant(ctx.tensor(i), what)).reshape(-1)]
        for i, what in ((1, "the slice begin"), (2, "the slice end"), (3, "the slice strides")))
    if not len(begin) == len(end) == len(steps) == rank:
        raise ctx.refuse(f"begin/end/strides of {len(begin)}/{len(end)}/{len(steps)} values do not fit rank {rank}")
    o = ctx.op.options
    begin_mask, end_mask, ellipsis, new_axis, shrink = (o.int32(k) for k in range(5))
    if ellipsis or new_axis or o.bool(5):
        raise ctx.refuse("a strided slice with an ellipsis, new axes or offset ends is not supported")
    if any(s <= 0 for s in steps):
        raise ctx.refuse(f"slice steps {steps} are not all positive; only forward slices are supported")
    if float(np.float32(ctx.scale(x))) != float(np.float32(ctx.scale(y))) or ctx.zero_point(x) != ctx.zero_point(y):
        raise ctx.refuse("input and output are quantized differently; TFLM's STRIDED_SLICE copies values unchanged")
    in_strides = [int(np.prod(x.shape[a + 1:], dtype=np.int64)) for a in range(rank)]
    start_byte, dims, strides, kept = 0, [], [], []
    for a in range(rank):
        dim = int(x.shape[a])
        start = 0 if begin_mask >> a & 1 else _clamp(begin[a], dim)
        if shrink >> a & 1:
            stop = start + 1
        else:
            stop = dim if end_mask >> a & 1 else _clamp(end[a], dim)
            kept.append(a)
        n = max(0, -(-(stop - start) // steps[a]))
        start_byte += start * in_strides[a]
        dims.append(n)
        strides.append(in_strides[a] * steps[a])
    if int(np.prod(dims)) != int(np.prod(y.shape)):
        raise ctx.refuse(f"the slice gives {[dims[a] for a in kept]}, not the output's {list(y.shape)}")
    if int(np.prod(dims)) == 0:
        raise ctx.refuse("the slice is empty")
    pad = MAX_RANK - rank
    params = pack("transpose", input=Arena(x.index, start_byte), output=Arena(y.index),
                  dims=[1] * pad + dims, strides=[0] * pad + strides)
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=0)
