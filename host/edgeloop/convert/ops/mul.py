"""MUL (int8), host half: TFLM's CalculateOpDataMul.

One rescale: the product of the zero-point-free inputs times
input1_scale * input2_scale / output_scale (in double, as TFLM), through
QuantizeMultiplier; the factor may pass 1 (a left shift). Broadcasting and
a constant operand: ops/binary.py.

Params: edgeloop_fw/runtime/opspec.py ("mul").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Context, OpPlan
from ..quant import activation_range, quantize_multiplier
from .binary import operands


def prepare(ctx: Context) -> OpPlan:
    op = operands(ctx)
    a, b, y = op.a, op.b, op.y
    act_min, act_max = activation_range(ctx.op.options.int8(0), ctx.scale(y), ctx.zero_point(y))
    real = ctx.scale(a) * ctx.scale(b) / ctx.scale(y)  # float32 scales widened to double
    m, shift = quantize_multiplier(real)
    if shift > 15:  # (x - zp) * (y - zp) < 2**16: beyond 2**15 TFLM's int32 left shift overflows
        raise ctx.refuse(f"the rescale factor {real:g} (input scales {ctx.scale(a):g} x {ctx.scale(b):g} over "
                         f"output scale {ctx.scale(y):g}) is beyond 2**15: the tensor scales are inconsistent")
    params = pack("mul", **op.fields, input1_offset=-ctx.zero_point(a), input2_offset=-ctx.zero_point(b),
                  output_offset=ctx.zero_point(y), output_multiplier=m, output_shift=shift,
                  act_min=act_min, act_max=act_max, limbs=split(m))
    return OpPlan(params, reads=op.reads, writes=[y.index], scratch=op.scratch,
                  macs=int(op.fields["n"]))
