"""RELU and RELU6, int16 host half: TFLM's ReluPrepare / Relu6Prepare for int16 tensors.

RELU: multiplier QuantizeMultiplier(s_in / s_out in double: for int16 TFLM divides the widened scales), clamp [max(-32768, zp_out), 32767].
RELU6: clamp to [zp_in, FloatToQuantizedType(6.0)] with the input's scale, no rescale.

Params: edgeloop_fw/runtime/opspec.py ("relu_16x8").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Context, OpPlan
from ..quant import quantize_multiplier, tflite_round
from .wide import INT16_MAX, INT16_MIN, need_int16


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    need_int16(ctx, x, "input")
    need_int16(ctx, y, "output")
    zin, zout = ctx.zero_point(x), ctx.zero_point(y)
    if ctx.op.name == "RELU6":
        six = tflite_round(float(np.float32(6.0) / np.float32(ctx.scale(x)))) + zin
        m, shift, rescale, lo, hi = 0, 0, 0, zin, min(INT16_MAX, max(INT16_MIN, six))
    else:
        m, shift = quantize_multiplier(float(np.float32(ctx.scale(x))) / float(np.float32(ctx.scale(y))))
        if shift > 16:  # 32767 << 17 would pass TFLM's int32
            raise ctx.refuse(f"RELU's scale ratio {ctx.scale(x) / ctx.scale(y):g} overflows TFLM's int32 rescale")
        rescale, lo, hi = 1, max(INT16_MIN, zout), INT16_MAX
    n = int(np.prod(x.shape, dtype=np.int64))
    params = pack("relu_16x8", n=n, input=Arena(x.index), output=Arena(y.index), rescale=rescale, input_zp=zin,
                  shift=shift, output_zp=zout, lo=lo, hi=hi, limbs=split(m))
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=0)
