"""MAX_POOL_2D / AVERAGE_POOL_2D, int16 host half: the int8 op's plan with int16 checks and clamps.

Params: edgeloop_fw/runtime/opspec.py ("pool_2d_16x8", the same layout as "pool_2d").
"""

from __future__ import annotations

from ..graph import Context, OpPlan
from .pool_2d import plan
from .wide import INT16_MAX, INT16_MIN, need_int16


def prepare(ctx: Context) -> OpPlan:
    need_int16(ctx, ctx.tensor(0), "input")
    need_int16(ctx, ctx.tensor(0, outputs=True), "output")
    return plan(ctx, "pool_2d_16x8", INT16_MIN, INT16_MAX)
