"""MUL, int16 host half: TFLM's CalculateOpDataMul for int16 (zero points 0), whose kernel is
the int8 MulElementwise on int16 values: the int32 product times s1 * s2 / s_out (double,
QuantizeMultiplier), an int16 clamp.

The product reaches 2**30, so a multiplier past 1 (a left shift) could overflow TFLM's int32;
it is refused rather than copied.

Params: edgeloop_fw/runtime/opspec.py ("mul_16x8", the same layout as "mul").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Context, OpPlan
from ..quant import activation_range, quantize_multiplier
from .binary import operands
from .wide import INT16_MAX, INT16_MIN


def prepare(ctx: Context) -> OpPlan:
    op = operands(ctx, wide=True)
    a, b, y = op.a, op.b, op.y
    act_min, act_max = activation_range(ctx.op.options.int8(0), ctx.scale(y), 0, INT16_MIN, INT16_MAX)
    real = ctx.scale(a) * ctx.scale(b) / ctx.scale(y)  # float32 scales widened to double
    m, shift = quantize_multiplier(real)
    if shift > 0:
        raise ctx.refuse(f"the int16 MUL rescale factor {real:g} (input scales {ctx.scale(a):g} x {ctx.scale(b):g} "
                         f"over output scale {ctx.scale(y):g}) is 1 or more: an int16 product times it can "
                         "overflow TFLM's int32")
    params = pack("mul_16x8", **op.fields, input1_offset=0, input2_offset=0, output_offset=0,
                  output_multiplier=m, output_shift=shift, act_min=act_min, act_max=act_max, limbs=split(m))
    return OpPlan(params, reads=op.reads, writes=[y.index], scratch=op.scratch, macs=int(op.fields["n"]))
