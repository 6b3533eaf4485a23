"""MEAN (int8), host half: TFLM's PrepareMeanOrSumHelper plus the
per-count rescale that reference_ops::QuantizedMeanOrSum does at eval time.

TFLM sums the raw int8 values in int32, subtracts zero_point * count, and
rescales with QuantizeMultiplier(s_in / s_out) adjusted for 1/count:
shift = min(floor(log2(count)), 32, 31 + output_shift),
multiplier = (multiplier << shift) // count, output_shift -= shift.
All of that depends only on shapes and scales, so it is done here.

The reduced axes must be contiguous (GlobalAveragePooling gives axes 1..rank-2),
so the input is viewed as [OUTER, COUNT, INNER] and the output as [OUTER, INNER].

Params: edgeloop_fw/runtime/opspec.py ("mean").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Context, OpPlan
from ..quant import quantize_multiplier


def mean_multiplier(s_in: float, s_out: float, count: int) -> tuple[int, int]:
    m, shift = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    adjust = min(count.bit_length() - 1, 32, 31 + shift)
    return int((m << adjust) // count), shift - adjust


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    return plan(ctx, "mean", 128)


def plan(ctx: Context, kernel: str, magnitude: int) -> OpPlan:
    """The params of `kernel` (mean or mean_16x8: one layout) once the dtypes are checked;
    `magnitude` bounds |value| (128 for int8, 32768 for int16)."""
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    axes = ctx.need_constant(ctx.tensor(1), "the axis")
    rank = len(x.shape)
    resolved = sorted({int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(axes).reshape(-1)})
    if not resolved or any(not 0 <= a < rank for a in resolved):
        raise ctx.refuse(f"axes {list(np.asarray(axes).reshape(-1))} do not fit an input of rank {rank}")
    if resolved != list(range(resolved[0], resolved[-1] + 1)):
        raise ctx.refuse(f"mean over non-adjacent axes {resolved} is not supported; reduce adjacent axes")
    outer = int(np.prod(x.shape[:resolved[0]], dtype=np.int64))
    count = int(np.prod([x.shape[a] for a in resolved], dtype=np.int64))
    inner = int(np.prod(x.shape[resolved[-1] + 1:], dtype=np.int64))
    if int(np.prod(y.shape, dtype=np.int64)) != outer * inner:
        raise ctx.refuse(f"output {y.shape} does not match input {x.shape} reduced over {resolved}")
    if count == 0:
        raise ctx.refuse("mean over an empty axis")
    m, shift = mean_multiplier(ctx.scale(x), ctx.scale(y), count)
    params = pack(kernel, outer=outer, count=count, inner=inner, input=Arena(x.index), output=Arena(y.index),
                  bias=-ctx.zero_point(x) * count, multiplier=m, shift=shift, output_zp=ctx.zero_point(y),
                  limbs=split(m))
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=outer * count * inner,
                  acc_bound=abs(ctx.zero_point(x) * count) + magnitude * count)
