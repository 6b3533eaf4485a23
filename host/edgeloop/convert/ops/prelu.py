"""PRELU (int8), host half: TFLM's CalculatePreluParams.

Two rescales from doubles: input_scale / output_scale for x >= zp (the
identity side), input_scale * alpha_scale / output_scale for the product
with alpha on the other side, each through QuantizeMultiplier. Alpha is the
second input, usually a constant (read into this op's scratch by the
kernel), broadcast over the input as TFLM's BroadcastPrelu4DSlow does:
ops/binary.py.

Params: edgeloop_fw/runtime/opspec.py ("prelu"); INPUT2 is alpha.
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Context, OpPlan
from ..quant import quantize_multiplier
from .binary import operands


def prepare(ctx: Context) -> OpPlan:
    op = operands(ctx, second="alpha")
    x, alpha, y = op.a, op.b, op.y
    m1, s1 = quantize_multiplier(ctx.scale(x) / ctx.scale(y))
    m2, s2 = quantize_multiplier(ctx.scale(x) * ctx.scale(alpha) / ctx.scale(y))
    if max(s1, s2) > 15:  # |x - zp| * |alpha - zp| < 2**16: beyond 2**15 TFLM's int32 left shift overflows
        raise ctx.refuse(f"the scales (input {ctx.scale(x):g}, alpha {ctx.scale(alpha):g}, output "
                         f"{ctx.scale(y):g}) make a rescale factor beyond 2**15: they are inconsistent")
    params = pack("prelu", **op.fields, input_offset=-ctx.zero_point(x), alpha_offset=-ctx.zero_point(alpha),
                  output_offset=ctx.zero_point(y), output_multiplier_1=m1, output_shift_1=s1,
                  output_multiplier_2=m2, output_shift_2=s2, limbs=[*split(m1), *split(m2)])
    return OpPlan(params, reads=op.reads, writes=[y.index], scratch=op.scratch)
