"""MAX_POOL_2D and AVERAGE_POOL_2D, host half: TFLM's PoolingPrepare for int8.

TFLM insists that input and output share scale and zero point (the pool
never rescales), so the only float work is the fused-activation clamp; the
padding follows tflite's ComputePaddingHeightWidth (the odd pixel of SAME
padding goes to the bottom/right, so only the top/left amount is kept).

Params: edgeloop_fw/runtime/opspec.py ("pool_2d").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan
from ..quant import activation_range

PADDING_SAME, PADDING_VALID = 0, 1
MODE_AVERAGE, MODE_MAX = 0, 1


def out_size(padding: int, size: int, filt: int, stride: int, dilation: int = 1) -> int:
    """ComputeOutSize."""
    eff = (filt - 1) * dilation + 1
    if padding == PADDING_SAME:
        return (size + stride - 1) // stride
    return (size + stride - eff) // stride


def pad_before(stride: int, dilation: int, size: int, filt: int, out: int) -> int:
    """ComputePaddingWithOffset without the offset: padding on the top/left side."""
    total = (out - 1) * stride + (filt - 1) * dilation + 1 - size
    return max(total, 0) // 2


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    return plan(ctx, "pool_2d", -128, 127)


def plan(ctx: Context, kernel: str, qmin: int, qmax: int) -> OpPlan:
    """The params of `kernel` (pool_2d or pool_2d_16x8: one layout) once the dtypes are checked."""
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise ctx.refuse(f"pooling needs 4-D NHWC tensors, got {x.shape} -> {y.shape}")
    if abs(ctx.scale(x) - ctx.scale(y)) > 1e-6 or ctx.zero_point(x) != ctx.zero_point(y):
        raise ctx.refuse("input and output quantization differ; TFLM's int8 pooling requires them equal")
    o = ctx.op.options
    padding, stride_w, stride_h = o.int8(0), o.int32(1), o.int32(2)
    filter_w, filter_h, act = o.int32(3), o.int32(4), o.int8(5)
    batches, in_h, in_w, depth = x.shape
    _, out_h, out_w, out_d = y.shape
    if out_d != depth or y.shape[0] != batches:
        raise ctx.refuse(f"output {y.shape} does not match input {x.shape}")
    if (out_h, out_w) != (out_size(padding, in_h, filter_h, stride_h), out_size(padding, in_w, filter_w, stride_w)):
        raise ctx.refuse(f"output {y.shape} does not follow from input {x.shape}, filter and strides")
    pad_h = pad_before(stride_h, 1, in_h, filter_h, out_h)
    pad_w = pad_before(stride_w, 1, in_w, filter_w, out_w)
    act_min, act_max = activation_range(act, ctx.scale(y), ctx.zero_point(y), qmin, qmax)
    mode = MODE_MAX if ctx.op.name == "MAX_POOL_2D" else MODE_AVERAGE
    params = pack(kernel, mode=mode, batches=batches, in_h=in_h, in_w=in_w, depth=depth, out_h=out_h,
                  out_w=out_w, stride_h=stride_h, stride_w=stride_w, filter_h=filter_h, filter_w=filter_w,
                  pad_h=pad_h, pad_w=pad_w, act_min=act_min, act_max=act_max, input=Arena(x.index),
                  output=Arena(y.index))
    # "MACs" for a pool: one add or compare per window element.
    work = batches * out_h * out_w * depth * filter_h * filter_w
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=work)
