"""SUB (int8), host half: TFLM's CalculateOpDataSub, which is ADD's arithmetic.

Both inputs go to a common scale (twice the larger input scale) with 20 bits
of headroom, are subtracted, and the difference is rescaled to the output;
the three multipliers are QuantizeMultiplierSmallerThanOneExp's, as ADD's
(ops/add.py). Broadcasting and a constant operand: ops/binary.py.

Params: edgeloop_fw/runtime/opspec.py ("sub").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Context, OpPlan
from ..quant import activation_range
from .add import LEFT_SHIFT, add_params
from .binary import operands


def prepare(ctx: Context) -> OpPlan:
    op = operands(ctx)
    a, b, y = op.a, op.b, op.y
    act_min, act_max = activation_range(ctx.op.options.int8(0), ctx.scale(y), ctx.zero_point(y))
    m1, s1, m2, s2, mo, so = add_params(ctx.scale(a), ctx.scale(b), ctx.scale(y), ctx)
    params = pack("sub", **op.fields, input1_offset=-ctx.zero_point(a), input2_offset=-ctx.zero_point(b),
                  output_offset=ctx.zero_point(y), left_shift=LEFT_SHIFT, input1_multiplier=m1,
                  input1_shift=s1, input2_multiplier=m2, input2_shift=s2, output_multiplier=mo,
                  output_shift=so, act_min=act_min, act_max=act_max,
                  limbs=[*split(m1), *split(m2), *split(mo)])
    return OpPlan(params, reads=op.reads, writes=[y.index], scratch=op.scratch)
