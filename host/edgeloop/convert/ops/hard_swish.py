"""HARD_SWISH (int8) as a lut8 table: TFLM's HardSwishPrepare and reference_ops::HardSwish.

x * relu6(x + 3) / 6 in TFLM's int16 fixed point, computed here for all 256
input codes so the board does one table lookup per element (kernels/lut8.py).
Every step keeps TFLM's integer types: the input goes to a "hires" scale
(x - zp) * 2**7, is multiplied by two 16-bit multipliers (one to the output
scale, one to the "reluish" [-1, 1] scale where 3.0 is 2**15), and the
values wrap or saturate where TFLM's int16 variables do. The float work is
float32, as TFLM's Prepare.
"""

from __future__ import annotations

import numpy as np

from ..graph import Context
from ..quant import quantize_multiplier

I16_MIN, I16_MAX = -32768, 32767


def wrap16(v: int) -> int:
    """A C int16_t assignment: two's complement wrap."""
    return ((v + 32768) & 0xFFFF) - 32768


def down_scale_16(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier: the top 16 bits, rounded, saturated."""
    if m >= 0x7FFFFFFF - (1 << 15):
        return I16_MAX
    return (m + (1 << 15)) >> 16


def srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16: round(a * b / 2**15), C division."""
    if a == b == I16_MIN:
        return I16_MAX
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    q = abs(ab + nudge) >> 15
    return wrap16(q if ab + nudge >= 0 else -q)


def sdhm16(a: int, b: int) -> int:
    """TFLM's SaturatingDoublingHighMul: a * b / 2**15 rounded toward zero."""
    if a == b == I16_MIN:
        return I16_MAX
    ab = a * b
    q = abs(ab) >> 15
    return wrap16(q if ab >= 0 else -q)


def rdbpot16(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT on int16, including its int16 mask for exponents of 16 and more."""
    mask = wrap16((1 << exponent) - 1)
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return wrap16((x >> exponent) + (1 if (x & mask) > threshold else 0))


def saturating_left_shift16(v: int, amount: int) -> int:
    return max(I16_MIN, min(I16_MAX, v * (1 << amount)))


def multipliers(s_in: float, s_out: float) -> tuple[int, int, int, int]:
    """(output multiplier int16, its exponent, reluish multiplier int16, its exponent) as HardSwishPrepare."""
    f32 = np.float32
    hires = f32(1.0 / 128.0) * f32(s_in)
    reluish_scale = f32(3.0) / f32(32768.0)
    m_out, e_out = quantize_multiplier(float(f32(hires / f32(s_out))))
    m_rel, e_rel = quantize_multiplier(float(f32(hires / reluish_scale)))
    return down_scale_16(m_out), e_out, down_scale_16(m_rel), e_rel


def hard_swish_table(s_in: float, zp_in: int, s_out: float, zp_out: int) -> list[int]:
    m_out, e_out, m_rel, e_rel = multipliers(s_in, s_out)
    out = []
    for x in range(-128, 128):
        hires = wrap16(wrap16(x - zp_in) * 128)
        preshift = srdhm16(hires, m_out)
        r = hires
        if e_rel > 0:
            r = saturating_left_shift16(r, e_rel - 1)
        r = srdhm16(r, m_rel)
        if e_rel > 0:
            r = saturating_left_shift16(r, 1)
        if e_rel < 0:
            r = rdbpot16(r, -e_rel)
        r = wrap16((r + (1 << 15)) >> 1)  # [-1, 1] -> [0, 1]
        v = wrap16(rdbpot16(sdhm16(r, preshift), -e_out) + zp_out)
        out.append(-128 if v < -128 else 127 if v > 127 else v)
    return out


def table(ctx: Context) -> list[int]:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    s_in, s_out = ctx.scale(x), ctx.scale(y)
    if multipliers(s_in, s_out)[1] > 0:
        raise ctx.refuse(f"output scale {s_out:g} is below the input scale {s_in:g} / 128 "
                         "(TFLM's HARD_SWISH refuses it too); re-convert the model")
    return hard_swish_table(s_in, ctx.zero_point(x), s_out, ctx.zero_point(y))
