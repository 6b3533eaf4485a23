"""PRELU, int16 host half: TFLM's CalculatePreluParams for an int16 input and output with an
int8 alpha (the only int16 pairing TFLM's prepare accepts).

The int8 op's two rescales (ops/prelu.py): s_in / s_out for x >= 0, s_in * s_alpha / s_out
for x times alpha's zero-point-free code, in double, through QuantizeMultiplier. The
converter's 16x8 mode does not emit PRELU ("not yet supported"); a hand-built model can.
|x * (alpha - zp)| < 2**23, so a left shift past 7 (past 15 for the identity side) could
overflow TFLM's int32: refused.

Params: edgeloop_fw/runtime/opspec.py ("prelu_16x8", the layout of "prelu").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Context, OpPlan
from ..quant import quantize_multiplier
from .binary import operands


def prepare(ctx: Context) -> OpPlan:
    op = operands(ctx, second="alpha", wide=True, wide_second=False)
    x, alpha, y = op.a, op.b, op.y
    m1, s1 = quantize_multiplier(ctx.scale(x) / ctx.scale(y))
    m2, s2 = quantize_multiplier(ctx.scale(x) * ctx.scale(alpha) / ctx.scale(y))
    if s1 > 15 or s2 > 7:
        raise ctx.refuse(f"the scales (input {ctx.scale(x):g}, alpha {ctx.scale(alpha):g}, output "
                         f"{ctx.scale(y):g}) make a rescale factor that overflows TFLM's int32 for int16 values")
    params = pack("prelu_16x8", **op.fields, input_offset=0, alpha_offset=-ctx.zero_point(alpha),
                  output_offset=0, output_multiplier_1=m1, output_shift_1=s1,
                  output_multiplier_2=m2, output_shift_2=s2, limbs=[*split(m1), *split(m2)])
    return OpPlan(params, reads=op.reads, writes=[y.index], scratch=op.scratch)
