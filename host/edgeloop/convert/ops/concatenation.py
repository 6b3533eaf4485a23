"""CONCATENATION (int8), host half: TFLM's concatenation Prepare.

TFLM's int8 kernel copies bytes and refuses inputs whose scale or zero point
differ from the output's; the TFLite converter inserts a QUANTIZE (int8 →
int8) in front of such an input, which edgeloop runs as a table (lut8). So
here, as in TFLM, unequal quantization is refused rather than rescaled.

The tensors are seen as [OUTER, size_i] with size_i = dim_i(axis) * INNER.
PACK is the same copy: its inputs lack the axis (one element along it each),
so size_i = INNER; TFLM's int8 PACK copies bytes too.
Params: edgeloop_fw/runtime/opspec.py ("concatenation").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan


PACK = 83


def prepare(ctx: Context) -> OpPlan:
    y = ctx.tensor(0, outputs=True)
    width = 2 if y.dtype == "int16" else 1  # 16x8 mode: the same byte copy, two bytes a value
    if width == 1:
        ctx.need_int8(y, "output")
    rank = len(y.shape)
    packing = ctx.op.opcode == PACK
    given = ctx.op.options.int32(1 if packing else 0)  # PackOptions.axis / ConcatenationOptions.axis
    axis = given + rank if given < 0 else given
    if not 0 <= axis < rank:
        raise ctx.refuse(f"axis {given} does not fit an output of rank {rank}")
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
    inputs = [ctx.tensor(i) for i in range(len(ctx.op.inputs))]
    units = []
    total = 0
    for i, x in enumerate(inputs):
        if x.dtype != y.dtype:
            raise ctx.refuse(f"input {i} '{x.name}' is {x.dtype}, the output {y.dtype}; "
                             "concatenation copies values of one type")
        if x.is_constant:
            raise ctx.refuse(f"input {i} '{x.name}' is a constant; edgeloop concatenates activations only")
        if packing:
            if list(x.shape) != list(y.shape[:axis]) + list(y.shape[axis + 1:]):
                raise ctx.refuse(f"input {i} {x.shape} does not fit the output {y.shape} packed along axis {axis}")
        elif len(x.shape) != rank or any(a != b for d, (a, b) in enumerate(zip(x.shape, y.shape)) if d != axis):
            raise ctx.refuse(f"input {i} {x.shape} does not fit the output {y.shape} along axis {axis}")
        if float(np.float32(ctx.scale(x))) != float(np.float32(ctx.scale(y))) or ctx.zero_point(x) != ctx.zero_point(y):
            raise ctx.refuse(f"input {i} '{x.name}' is quantized differently from the output; TFLM's int8 "
                             "CONCATENATION needs equal scales (the TFLite converter adds a QUANTIZE op for that)")
        size = (inner if packing else x.shape[axis] * inner) * width  # bytes
        total += size
        units.append((Arena(x.index), size))
    if total * outer != width * int(np.prod(y.shape, dtype=np.int64)):
        raise ctx.refuse(f"inputs do not add up to the output {y.shape}")
    params = pack("concatenation", outer=outer, output=Arena(y.index), n_inputs=len(inputs), inputs=units)
    return OpPlan(params, reads=[x.index for x in inputs], writes=[y.index], macs=0)
