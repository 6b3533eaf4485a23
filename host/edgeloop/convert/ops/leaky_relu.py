"""LEAKY_RELU (int8) as a lut8 table: TFLM's CalculateOpDataLeakyRelu and QuantizeLeakyRelu.

The op maps one int8 code to one, so the board runs it as a 256-entry table
(kernels/lut8.py) and this file computes the entries exactly as TFLM's
reference kernel would: two multipliers from doubles, input_scale * alpha /
output_scale for negative inputs and input_scale / output_scale for the
rest, each through QuantizeMultiplier; then per code
zp_out + MultiplyByQuantizedMultiplier(x - zp_in), clamped to int8.
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.qmath import mbqm_wide as mbqm

from ..graph import Context
from ..quant import quantize_multiplier


def leaky_relu_table(s_in: float, zp_in: int, alpha: float, s_out: float, zp_out: int) -> list[int]:
    s_in, s_out, alpha = (float(np.float32(v)) for v in (s_in, s_out, alpha))
    m_alpha, sh_alpha = quantize_multiplier(s_in * alpha / s_out)
    m_id, sh_id = quantize_multiplier(s_in / s_out)
    out = []
    for x in range(-128, 128):
        v = x - zp_in
        v = zp_out + (mbqm(v, m_id, sh_id) if v >= 0 else mbqm(v, m_alpha, sh_alpha))
        out.append(-128 if v < -128 else 127 if v > 127 else v)
    return out


def table(ctx: Context) -> list[int]:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    alpha = ctx.op.options.float32(0, 0.0)  # LeakyReluOptions.alpha
    if alpha < 0:
        raise ctx.refuse(f"alpha {alpha} is negative; TFLM's QuantizeMultiplier takes a non-negative factor")
    return leaky_relu_table(ctx.scale(x), ctx.zero_point(x), alpha, ctx.scale(y), ctx.zero_point(y))
