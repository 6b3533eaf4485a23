"""Scale-product ties: where a float32 and a double input*weight scale product give different outputs.

TFLM's per-tensor multiplier (GetQuantizedConvolutionMultipler) differs between
its source (a float32 product) and the installed wheel (double); the two
multipliers differ by a few units in 31 bits, so only a chosen output scale
shows it. The numpy requantizations here only pick that scale; the tests then
compare edgeloop with TFLM itself.
"""

from __future__ import annotations

import numpy as np
import pytest

def float32_product(si, sw, so) -> float:
    """The old conv_multiplier_per_tensor: the scales' product rounded to float32."""
    return float(np.float64(np.float32(np.float32(si) * np.float32(sw))) / np.float64(np.float32(so)))


def double_product(si, sw, so) -> float:
    return float(np.float32(si)) * float(np.float32(sw)) / float(np.float32(so))


def requant32(acc: np.ndarray, m: int, shift: int) -> np.ndarray:
    """TFLM's int32 MultiplyByQuantizedMultiplier (doubling high mul, rounding right shift)."""
    x = acc.astype(np.int64) << max(shift, 0)
    ab = x * m
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    high = np.where(s >= 0, s >> 31, -((-s) >> 31))  # C division truncates toward zero
    e = max(-shift, 0)
    mask = (1 << e) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> e) + ((high & mask) > threshold)


def requant64(acc: np.ndarray, m: int, shift: int) -> np.ndarray:
    """TFLM's int64 MultiplyByQuantizedMultiplier: the multiplier rounded half up to 16 bits."""
    reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    return (acc.astype(np.int64) * reduced + (1 << (total - 1))) >> total


def tie_scale(acc, si, sw, so, zp, lo, hi, wide) -> float:
    """The first output scale above so at which the two products give different outputs for acc."""
    from edgeloop.convert.quant import quantize_multiplier

    requant = requant64 if wide else requant32
    v = np.float32(so)
    for _ in range(20000):
        v = np.nextafter(v, np.float32(1))
        a = np.clip(requant(acc, *quantize_multiplier(float32_product(si, sw, v))) + zp, lo, hi)
        b = np.clip(requant(acc, *quantize_multiplier(double_product(si, sw, v))) + zp, lo, hi)
        if (a != b).any():
            return float(v)
    pytest.fail("no output scale within 20000 steps separates the two products")
