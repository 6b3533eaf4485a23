"""ADD, int16 host half: TFLM's CalculateOpDataAdd for int16 outputs (left shift 15, not 20).

Params: edgeloop_fw/runtime/opspec.py ("add_16x8", the same layout as "add").
"""

from __future__ import annotations

from ..graph import Context, OpPlan
from .add import plan
from .wide import INT16_MAX, INT16_MIN, need_int16

LEFT_SHIFT_16 = 15


def prepare(ctx: Context) -> OpPlan:
    for t, role in ((ctx.tensor(0), "first input"), (ctx.tensor(1), "second input"),
                    (ctx.tensor(0, outputs=True), "output")):
        need_int16(ctx, t, role)
    return plan(ctx, "add_16x8", LEFT_SHIFT_16, INT16_MIN, INT16_MAX)
