"""BATCH_MATMUL, int16 host half: TFLM's batch_matmul Prepare for int16 operands.

The int8 op's geometry (ops/batch_matmul.py; strides doubled for two-byte values), zero
points 0, the full int16 clamp; TFLM accumulates in int64 (BatchMatMul<int16_t, int64_t>)
and requantizes with the int64 MultiplyByQuantizedMultiplier, whose 16-bit rounded
multiplier is wide.requant64's.

Params: edgeloop_fw/runtime/opspec.py ("batch_matmul_16x8").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack

from ..graph import Context, OpPlan
from ..quant import conv_multiplier_per_tensor, quantize_multiplier
from .batch_matmul import geometry
from .wide import need_int16, requant64


def prepare(ctx: Context) -> OpPlan:
    a, b, y = ctx.tensor(0), ctx.tensor(1), ctx.tensor(0, outputs=True)
    for t, role in ((a, "lhs"), (b, "rhs"), (y, "output")):
        need_int16(ctx, t, role)
    fields, n, depth = geometry(ctx, 2)
    mult, shift = quantize_multiplier(conv_multiplier_per_tensor(ctx.scale(a), ctx.scale(b), ctx.scale(y)))
    _m, _s, reduced, total_shift = requant64(ctx, mult, shift)
    params = pack("batch_matmul_16x8", **fields, reduced=reduced, total_shift=total_shift)
    return OpPlan(params, reads=[a.index, b.index], writes=[y.index], macs=n * depth, acc_bound=1 << 30)
