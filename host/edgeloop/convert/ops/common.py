"""Helpers shared by the host halves of conv-like ops (conv, depthwise, pooling)."""

from __future__ import annotations

import numpy as np

from ..quant import conv_multiplier_per_tensor, conv_multipliers_per_channel, quantize_multiplier

PADDING_SAME, PADDING_VALID = 0, 1


def out_size(padding: int, size: int, filt: int, stride: int, dilation: int = 1) -> int:
    """tflite ComputeOutSize."""
    effective = (filt - 1) * dilation + 1
    if padding == PADDING_SAME:
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def padding(stride: int, dilation: int, size: int, filt: int, out: int) -> int:
    """tflite ComputePaddingWithOffset: the smaller half goes before (top/left)."""
    effective = (filt - 1) * dilation + 1
    total = max(0, (out - 1) * stride + effective - size)
    return total // 2


def channel_multipliers(ctx, x, w, y, channels: int) -> list[tuple[int, int]]:
    """Per output channel (multiplier, shift), as TFLM's conv Prepare computes them."""
    if w.per_channel:
        return conv_multipliers_per_channel(ctx.scale(x), w.scale, ctx.scale(y), channels)
    return [quantize_multiplier(conv_multiplier_per_tensor(ctx.scale(x), ctx.scale(w), ctx.scale(y)))] * channels


def acc_bound(bias: np.ndarray, weights: np.ndarray, input_offset: int = 0) -> int:
    """An upper bound of |bias[c] + sum w[c, k] * (x[k] + input_offset)| over every int8 input x.

    The board's kernels allocate nothing as long as accumulators stay below
    2**30 (a 32-bit MicroPython's small ints); beyond, the bytes are still
    exact but each output allocates. The converter reports such ops."""
    worst_x = max(abs(-128 + input_offset), abs(127 + input_offset))
    rows = np.abs(weights.reshape(len(bias), -1).astype(np.int64)).sum(axis=1)
    return int(np.max(np.abs(bias.astype(np.int64)) + worst_x * rows)) if len(bias) else 0


def conv_operands(ctx):
    """(input, filter, bias, output tensors, filter data) of a conv-like op, with TFLM's int8 checks."""
    x, w, b = ctx.tensor(0), ctx.tensor(1), ctx.tensor(2)
    y = ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    filt = int8_weights(ctx, w)
    if len(x.shape) != 4 or filt.ndim != 4:
        raise ctx.refuse(f"expects 4-D input and filter, got {x.shape} and {filt.shape}")
    return x, w, b, y, filt


def int8_weights(ctx, w) -> np.ndarray:
    data = ctx.need_constant(w, "the filter")
    if w.dtype != "int8":
        raise ctx.refuse(f"filter '{w.name}' is {w.dtype}; edgeloop needs int8 weights")
    if w.zero_point.size and np.any(w.zero_point != 0):
        raise ctx.refuse(f"filter '{w.name}' has a non-zero zero point; int8 weights must be symmetric")
    return data


def bias_values(ctx, b, channels: int) -> np.ndarray:
    if b is None:
        return np.zeros(channels, np.int64)
    data = ctx.need_constant(b, "the bias")
    if b.dtype != "int32":
        raise ctx.refuse(f"bias '{b.name}' is {b.dtype}; edgeloop needs int32 bias")
    return data.astype(np.int64).reshape(-1)


def right_align4(ctx, shape, role: str = "tensor") -> list[int]:
    """A shape of rank <= 4 as 4 dimensions, leading ones added (TFLM's RuntimeShape::ExtendedShape)."""
    shape = [int(d) for d in shape]
    if len(shape) > 4:
        raise ctx.refuse(f"{role} has rank {len(shape)}; edgeloop's data-movement kernels take rank 1 to 4")
    return [1] * (4 - len(shape)) + shape


def constant_ints(ctx, t, role: str) -> list[int]:
    """An int32/int64 constant input (paddings, begins, sizes, axes, indices) as Python ints."""
    data = ctx.need_constant(t, role)
    if t.dtype not in ("int32", "int64"):
        raise ctx.refuse(f"{role} '{t.name}' is {t.dtype}; expected int32 or int64")
    return [int(v) for v in np.asarray(data).reshape(-1)]


def axis_of(ctx, axis: int, rank: int) -> int:
    """A possibly negative axis as 0..rank-1, or a refusal."""
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise ctx.refuse(f"axis {axis} does not fit rank {rank}")
    return a


def value_width(ctx, t, role: str) -> int:
    """Bytes per value of a data-movement op's tensor: 1 for int8, 2 for int16 (TFLM's 16x8 mode).

    These ops copy codes and never compute with them, so an int16 tensor's zero point and scale
    are TFLM's concern only as they are for int8 (equal where TFLM checks them)."""
    if t.dtype == "int16":
        return 2
    ctx.need_int8(t, role)
    return 1


def with_byte_axis(ctx, counts: list[int], steps: list[int], width: int, role: str) -> tuple[list[int], list[int]]:
    """A 4-D (count, byte step) walk over values of `width` bytes as a 4-D walk over bytes.

    The board's strided copies (TRANSPOSE, SLICE, STRIDED_SLICE) move one byte per innermost
    step. For int16 values the innermost axis becomes the value's two bytes (count 2, step 1),
    which leaves room for three value axes: an axis of count 1 is dropped (a model's batch axis
    nearly always), or two neighbours that are one run in the input are merged; with neither,
    the op is refused."""
    if width == 1:
        return counts, steps
    counts, steps = list(counts), list(steps)
    for k in range(3):
        if 1 not in counts and steps[k] == counts[k + 1] * steps[k + 1]:
            counts[k + 1] *= counts[k]
            counts[k], steps[k] = 1, 0
    keep = [k for k in range(4) if counts[k] != 1]
    if len(keep) == 4:
        raise ctx.refuse(f"an int16 {role} over four axes of sizes {counts} is not supported "
                         "(edgeloop's strided copy has room for three int16 axes); reshape to rank 3")
    keep = [None] * (3 - len(keep)) + keep
    return ([1 if k is None else counts[k] for k in keep] + [width],
            [0 if k is None else steps[k] for k in keep] + [1])
