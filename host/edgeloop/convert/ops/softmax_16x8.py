"""SOFTMAX, int16 host half: TFLM's SoftmaxPrepare for int16 in and out.

TFLM builds two 513-entry int16 LUTs at Prepare time with gen_lut in float32 (exp
on [-10, 0], 1/(1+x) on [0, 1], each entry nudged by half the interpolation error
at its midpoint); they depend on nothing in the model, so they are built here the
same way, float32 step by float32 step, and written to the file for the board
(edgeloop_fw/runtime/kernels/softmax_16x8.py). The input difference's multiplier is
QuantizeMultiplier(s_in * beta / (10 / 65535)) in double.

Params: edgeloop_fw/runtime/opspec.py ("softmax_16x8").
"""

from __future__ import annotations

import math

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import quantize_multiplier
from .wide import need_int16

_F = np.float32
MAX_DEPTH = 1 << 16  # TFLM's int32 sum of up to 32767 per value


def _round(v) -> np.float32:
    """TfLiteRound (half away from zero) of a float32, as a float32."""
    v = float(v)
    return _F(math.copysign(math.floor(abs(v) + 0.5), v))


def gen_lut(func, lo: float, hi: float) -> list[int]:
    """tflite::gen_lut<float, int16_t, int16_t>(func, lo, hi, -1, 1): 512 steps and the end value."""
    lo, hi = _F(lo), _F(hi)
    step = _F((hi - lo) / _F(512))
    half = _F(step / _F(2))
    scale = _F(32768)  # 65536 / (1 - -1)
    out = []
    for i in range(512):
        x = _F(lo + _F(_F(i) * step))
        val, mid, nxt = func(x), func(_F(x + half)), func(_F(lo + _F(_F(i + 1) * step)))
        sample = _round(_F(val * scale))
        interp = _round(_F(_F(_F(nxt * scale) + sample) / _F(2)))
        bias = _round(_F(_F(interp - _round(_F(mid * scale))) / _F(2)))
        out.append(int(min(max(_F(sample - bias), -32768.0), 32767.0)))
    out.append(int(min(max(_round(_F(func(hi) * scale)), -32768.0), 32767.0)))
    return out


def luts() -> bytes:
    exp = gen_lut(lambda v: _F(np.exp(v)), -10.0, 0.0)
    recip = gen_lut(lambda v: _F(_F(1) / _F(_F(1) + v)), 0.0, 1.0)
    return np.asarray(exp + recip, "<i2").tobytes()


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    need_int16(ctx, x, "input")
    need_int16(ctx, y, "output")
    if abs(ctx.scale(y) - 1 / 32768) > 0.001 / 32768:
        raise ctx.refuse(f"int16 softmax output must have scale 1/32768 (TFLM's requirement); got {ctx.scale(y)}")
    beta = float(ctx.op.options.float32(0, 0.0))
    depth = int(x.shape[-1])
    outer = int(np.prod(x.shape)) // depth
    if depth > MAX_DEPTH:
        raise ctx.refuse(f"softmax over {depth} int16 values can overflow TFLM's int32 sum; "
                         f"rows of up to {MAX_DEPTH} are supported")
    m, shift = quantize_multiplier(float(_F(ctx.scale(x))) * beta / (10.0 / 65535.0))
    if shift > 15:  # 65535 << shift would pass TFLM's int32
        raise ctx.refuse(f"softmax input scale {ctx.scale(x)} times beta {beta} is too large for TFLM's "
                         "int16 softmax")
    params = pack("softmax_16x8", outer=outer, depth=depth, input=Arena(x.index), output=Arena(y.index),
                  luts=Const(luts()), scratch=Scratch(), shift=shift, limbs=split(m))
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=2052, macs=outer * depth)
