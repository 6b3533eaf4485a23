"""What the host halves of TFLM's 16x8 ops share: int16 tensors, int64 bias, the int64 requantization.

In 16x8 mode (int16 activations, int8 weights) TFLM's converter gives every
int16 tensor zero point 0 and conv-like ops an int64 bias; TFLM then
accumulates in int64 and requantizes with the int64 MultiplyByQuantizedMultiplier,
which rounds the multiplier to 16 bits first. Anything else is refused here,
never approximated.
"""

from __future__ import annotations

import numpy as np

INT16_MIN, INT16_MAX = -32768, 32767


def need_int16(ctx, t, role: str) -> None:
    if t.dtype != "int16":
        raise ctx.refuse(f"{role} '{t.name}' is {t.dtype}; a 16x8 op needs int16 activations")
    if ctx.zero_point(t) != 0:
        raise ctx.refuse(f"{role} '{t.name}' has zero point {ctx.zero_point(t)}; "
                         "TFLM's int16 activations are symmetric (zero point 0)")


def bias64(ctx, b, channels: int) -> np.ndarray:
    """The int64 bias (zeros when absent); int32 bias in 16x8 takes another TFLM path: refused."""
    if b is None:
        return np.zeros(channels, np.int64)
    data = ctx.need_constant(b, "the bias")
    if b.dtype != "int64":
        raise ctx.refuse(f"bias '{b.name}' is {b.dtype}; edgeloop's 16x8 kernels take TFLM's int64 bias "
                         "(the converter's default for 16x8)")
    return data.astype(np.int64).reshape(-1)


def split64(v: int) -> tuple[int, int]:
    """(hi, lo), both int32, with v = hi * 2**32 + lo (lo the signed low word)."""
    v = int(v)
    lo = ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    return (v - lo) >> 32, lo


def requant64(ctx, multiplier: int, shift: int) -> tuple[int, int, int, int]:
    """(multiplier, shift, reduced, total_shift) for qmath.mbqm64, as TFLM's int64
    MultiplyByQuantizedMultiplier computes them from the int32 multiplier."""
    if not -31 <= shift < 8:
        raise ctx.refuse(f"requantization shift {shift} is outside TFLM's 16x8 range [-31, 7]; "
                         "the tensor scales are inconsistent")
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    return multiplier, shift, reduced, 15 - shift


def units(ctx, bias: np.ndarray, mults) -> list[tuple[int, ...]]:
    """The per-channel (bias_hi, bias_lo, multiplier, shift, reduced, total_shift) tail."""
    return [(*split64(bias[c]), *requant64(ctx, *mults[c])) for c in range(len(bias))]
