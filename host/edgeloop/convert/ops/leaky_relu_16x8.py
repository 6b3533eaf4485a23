"""LEAKY_RELU, int16 host half: TFLM's CalculateOpDataLeakyRelu for int16 tensors.

Two multipliers through QuantizeMultiplier: s_in * alpha / s_out for negative inputs,
s_in / s_out for the rest, in double from the float32 scales and alpha. (TFLM's source
reads as float32 arithmetic widened afterwards; the installed TFLM's outputs are those of
the double one -- the float32 products missed by one in up to 31 of the 65536 codes.)
A negative alpha is refused, as in the int8 table (ops/leaky_relu.py); so is a left
shift past 15, where TFLM's int32 product could overflow.

Params: edgeloop_fw/runtime/opspec.py ("leaky_relu_16x8").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Context, OpPlan
from ..quant import quantize_multiplier
from .wide import need_int16

_F = np.float32


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    need_int16(ctx, x, "input")
    need_int16(ctx, y, "output")
    alpha = ctx.op.options.float32(0, 0.0)  # LeakyReluOptions.alpha
    if alpha < 0:
        raise ctx.refuse(f"alpha {alpha} is negative; edgeloop's LEAKY_RELU takes a non-negative alpha")
    s_in, s_out, alpha = (float(_F(v)) for v in (ctx.scale(x), ctx.scale(y), alpha))
    m_id, sh_id = quantize_multiplier(s_in / s_out)
    m_alpha, sh_alpha = quantize_multiplier(s_in * alpha / s_out)
    if max(sh_id, sh_alpha) > 15:  # |x| <= 2**15: past a shift of 15 TFLM's int32 overflows
        raise ctx.refuse(f"LEAKY_RELU's scale ratio {float(s_in / s_out):g} (alpha {alpha:g}) overflows "
                         "TFLM's int32 rescale")
    n = int(np.prod(x.shape, dtype=np.int64))
    params = pack("leaky_relu_16x8", n=n, input=Arena(x.index), output=Arena(y.index), identity_shift=sh_id,
                  alpha_shift=sh_alpha, limbs=[*split(m_id), *split(m_alpha)])
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=0)
