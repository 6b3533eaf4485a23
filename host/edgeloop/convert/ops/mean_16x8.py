"""MEAN, int16 host half: the int8 op's plan (TFLM's QuantizedMeanOrSum rescale) with int16 checks.

Params: edgeloop_fw/runtime/opspec.py ("mean_16x8", the same layout as "mean").
"""

from __future__ import annotations

from ..graph import Context, OpPlan
from .mean import plan
from .wide import need_int16


def prepare(ctx: Context) -> OpPlan:
    need_int16(ctx, ctx.tensor(0), "input")
    need_int16(ctx, ctx.tensor(0, outputs=True), "output")
    converted = plan(ctx, "mean_16x8", 32768)
    if converted.params[1] > 1 << 16:  # COUNT: TFLM's int32 sum of int16 values would wrap
        raise ctx.refuse(f"mean over {converted.params[1]} int16 values can overflow TFLM's int32 sum; "
                         "reduce fewer values")
    return converted
