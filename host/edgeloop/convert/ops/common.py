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
