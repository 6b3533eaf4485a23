"""SUB, int16 host half: TFLM's CalculateOpDataSub for int16 outputs, ADD's arithmetic with
left shift 15 (not 20) and an int16 clamp; TFLM then runs the int8 SubElementwise /
BroadcastQuantSubSlow on int16 values.

Params: edgeloop_fw/runtime/opspec.py ("sub_16x8", the same layout as "sub").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Context, OpPlan
from ..quant import activation_range
from .add import add_params
from .add_16x8 import LEFT_SHIFT_16
from .binary import operands
from .wide import INT16_MAX, INT16_MIN


def prepare(ctx: Context) -> OpPlan:
    op = operands(ctx, wide=True)
    a, b, y = op.a, op.b, op.y
    act_min, act_max = activation_range(ctx.op.options.int8(0), ctx.scale(y), 0, INT16_MIN, INT16_MAX)
    m1, s1, m2, s2, mo, so = add_params(ctx.scale(a), ctx.scale(b), ctx.scale(y), ctx, LEFT_SHIFT_16)
    params = pack("sub_16x8", **op.fields, input1_offset=0, input2_offset=0, output_offset=0,
                  left_shift=LEFT_SHIFT_16, input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2,
                  input2_shift=s2, output_multiplier=mo, output_shift=so, act_min=act_min, act_max=act_max,
                  limbs=[*split(m1), *split(m2), *split(mo)])
    return OpPlan(params, reads=op.reads, writes=[y.index], scratch=op.scratch)
