"""DEQUANTIZE (int16 -> float32), host half: TFLM's reference_ops::Dequantize on int16 codes.

TFLM computes float(double(scale) * (x - zero_point)). The board does it in
integers (kernels/dequantize_16x8.py): this splits the float32 scale into its
24-bit mantissa and the exponent field the product starts from, and refuses a
scale whose results could leave float32's normal range (TFLM would give a
subnormal or an infinity, which the kernel does not build).
Params: edgeloop_fw/runtime/opspec.py ("dequantize_16x8").
"""

from __future__ import annotations

import math

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan


def scale_fields(scale: float) -> tuple[int, int, int] | None:
    """(mant_hi, mant_lo, bias) of a positive float32 scale, or None when a product with
    1..65535 could fall outside float32's normal exponents."""
    s = float(np.float32(scale))
    if not s > 0 or not math.isfinite(s):
        return None
    f, e = math.frexp(s)  # s = f * 2**e, 0.5 <= f < 1
    mant = int(f * (1 << 24))  # exact: s is a float32
    bias = e - 24 + 23 + 127  # the exponent field of mant * 1 (drop 0)
    if bias < 1 or bias + 17 > 254:
        return None
    return mant >> 12, mant & 4095, bias


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    if x.dtype != "int16":
        raise ctx.refuse(f"input '{x.name}' is {x.dtype}; this DEQUANTIZE takes int16")
    if y.dtype != "float32":
        raise ctx.refuse(f"output '{y.name}' is {y.dtype}; edgeloop's DEQUANTIZE makes float32")
    if x.per_channel:
        raise ctx.refuse("per-channel dequantization is not supported (one scale per tensor)")
    fields = scale_fields(ctx.scale(x))
    if fields is None:
        raise ctx.refuse(f"scale {ctx.scale(x):g} puts dequantized values outside float32's normal range")
    n = int(np.prod(x.shape, dtype=np.int64))
    mant_hi, mant_lo, bias = fields
    params = pack("dequantize_16x8", n=n, input=Arena(x.index), output=Arena(y.index),
                  zero_point=ctx.zero_point(x), mant_hi=mant_hi, mant_lo=mant_lo, bias=bias)
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=0)
