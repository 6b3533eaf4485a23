"""QUANTIZE with an int16 end, host half: TFLM's PrepareQuantizeReference for int16 -> int16,
int8 -> int16 and int16 -> int8 (one multiplier from the double ratio of the float32 scales).

TFLM shifts (x - zero_point) left in int32 before the multiply; a scale ratio whose left
shift could overflow that is refused here rather than given other bytes than TFLM's.

Params: edgeloop_fw/runtime/opspec.py ("quantize_16x8").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Context, OpPlan
from ..quant import quantize_multiplier
from .wide import need_int16

WIDTH = {"int8": 1, "int16": 2}


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    for t, role in ((x, "input"), (y, "output")):
        if t.dtype not in WIDTH:
            raise ctx.refuse(f"QUANTIZE {role} '{t.name}' is {t.dtype}; edgeloop's QUANTIZE with int16 "
                             "takes int16 -> int16, int8 -> int16 and int16 -> int8")
        if t.dtype == "int16":
            need_int16(ctx, t, role)
        if t.per_channel:
            raise ctx.refuse("per-channel activation quantization is not supported")
    zin, zout = ctx.zero_point(x), ctx.zero_point(y)
    m, shift = quantize_multiplier(float(np.float32(ctx.scale(x))) / float(np.float32(ctx.scale(y))))
    top = (1 << (8 * WIDTH[x.dtype] - 1)) - 1  # x - zero_point spans [-top - 1 - zin, top - zin]
    if shift > 0 and ((-top - 1 - zin) << shift < -(1 << 31) or (top - zin) << shift > (1 << 31) - 1):
        raise ctx.refuse(f"the scale ratio {ctx.scale(x) / ctx.scale(y):g} overflows TFLM's int32 rescale; "
                         "the tensor scales are inconsistent")
    n = int(np.prod(x.shape, dtype=np.int64))
    params = pack("quantize_16x8", n=n, input=Arena(x.index), output=Arena(y.index), in_bytes=WIDTH[x.dtype],
                  out_bytes=WIDTH[y.dtype], input_zp=zin, shift=shift, output_zp=zout, limbs=split(m))
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=0)
