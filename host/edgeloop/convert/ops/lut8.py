"""Element-wise int8 → int8 ops as a 256-entry table: RELU, RELU6, LOGISTIC, TANH, QUANTIZE, and the
ops whose tables have their own files (LEAKY_RELU, HARD_SWISH: ops/<name>.py).

Each of these maps one int8 code to one int8 code with nothing but the
tensors' quantization, so the host runs TFLM's integer arithmetic for all
256 inputs (the Prepare-time float work included) and the board does one
table lookup per element. The table is exact by construction: every entry is
the value TFLM's reference kernel computes for that input code:

  RELU      ReluQuantized: zp_out + MultiplyByQuantizedMultiplier(x - zp_in),
            clamped to [max(-128, zp_out), 127]; the multiplier comes from
            a float32 division of the scales.
  RELU6     Relu6Quantized: clamp x to [zp_in, quantized 6.0] (no rescale).
  LOGISTIC  reference_integer_ops::Logistic (gemmlowp::logistic on Q4.27).
  TANH      reference_integer_ops::Tanh (gemmlowp::tanh on Q4.27).
  QUANTIZE  int8 → int8 reference_ops::Requantize.

Params: edgeloop_fw/runtime/opspec.py ("lut8").
"""

from __future__ import annotations

import math

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import mbqm_wide as mbqm, rdbpot

from .. import fixedpoint
from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import quantize_multiplier, tflite_round
from . import hard_swish, leaky_relu

CODES = range(-128, 128)
OWN_TABLES = {"LEAKY_RELU": leaky_relu.table, "HARD_SWISH": hard_swish.table}  # op -> table(ctx)


def _clamp(v: int) -> int:
    return -128 if v < -128 else 127 if v > 127 else v


def relu_table(s_in, zp_in, s_out, zp_out) -> list[int]:
    real = float(np.float32(s_in) / np.float32(s_out))  # TFLM divides in float32
    m, shift = quantize_multiplier(real)
    lo = max(-128, zp_out)  # zp_out + round(0.0 / s_out)
    return [min(127, max(lo, zp_out + mbqm(x - zp_in, m, shift))) for x in CODES]


def relu6_table(s_in, zp_in) -> list[int]:
    q6 = float(np.float32(6.0) / np.float32(s_in))  # FloatToQuantizedType
    six = _clamp(tflite_round(q6) + zp_in)
    return [six if x > six else zp_in if x < zp_in else x for x in CODES]


def requantize_table(s_in, zp_in, s_out, zp_out) -> list[int]:
    m, shift = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    return [_clamp(mbqm(x - zp_in, m, shift) + zp_out) for x in CODES]


def _q4_rescale(s_in):
    """TFLM's Logistic/Tanh Prepare: input multiplier into Q4.27 and the radius
    beyond which the output saturates."""
    real = float(np.float32(s_in)) * (1 << 27)
    q, shift = math.frexp(real)
    m = tflite_round(q * (1 << 31))
    radius = math.floor(15.0 * (1 << 27) / (2.0 ** shift))  # CalculateInputRadius(4, shift, 31)
    return m, shift, radius


def _q4_table(s_in, zp_in, inner) -> list[int]:
    """TFLM's int8 LOGISTIC/TANH: saturate beyond the input radius, else `inner` of the Q4.27 input."""
    m, shift, radius = _q4_rescale(s_in)
    out = []
    for x in CODES:
        v = x - zp_in
        if v <= -radius:
            out.append(-128)
        elif v >= radius:
            out.append(127)
        else:
            out.append(inner(mbqm(v, m, shift)))
    return out


def logistic_table(s_in, zp_in) -> list[int]:
    return _q4_table(s_in, zp_in, lambda q: _clamp(rdbpot(fixedpoint.logistic(q), 23) - 128))


def tanh_table(s_in, zp_in) -> list[int]:
    return _q4_table(s_in, zp_in, lambda q: _clamp(rdbpot(fixedpoint.tanh(q), 24)))


def table_for(ctx: Context) -> list[int]:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    s_in, zp_in = ctx.scale(x), ctx.zero_point(x)
    name = ctx.op.name
    if name == "RELU":
        return relu_table(s_in, zp_in, ctx.scale(y), ctx.zero_point(y))
    if name == "RELU6":
        return relu6_table(s_in, zp_in)
    if name == "LOGISTIC":
        if ctx.zero_point(y) != -128:
            raise ctx.refuse(f"int8 LOGISTIC needs output zero point -128 (TFLM refuses "
                             f"{ctx.zero_point(y)}); re-convert with the TFLite converter")
        return logistic_table(s_in, zp_in)
    if name == "TANH":
        return tanh_table(s_in, zp_in)
    if name == "QUANTIZE":
        return requantize_table(s_in, zp_in, ctx.scale(y), ctx.zero_point(y))
    own = OWN_TABLES.get(name)
    if own:
        return own(ctx)
    raise ctx.refuse("no table for this op")  # only reachable through a registry mistake


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    if ctx.op.name == "QUANTIZE" and x.dtype != "int8":
        raise ctx.refuse(f"QUANTIZE from {x.dtype} is not supported; edgeloop models take int8 "
                         "input (convert with inference_input_type=int8)")
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    if x.per_channel or y.per_channel:
        raise ctx.refuse("per-channel activation quantization is not supported")
    n = int(np.prod(x.shape, dtype=np.int64))
    table = np.asarray(table_for(ctx), np.int8)
    params = pack("lut8", n=n, input=Arena(x.index), output=Arena(y.index), table=Const(table.tobytes()),
                  scratch=Scratch())
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=256, macs=0)
