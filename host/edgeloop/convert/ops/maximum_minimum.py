"""MAXIMUM and MINIMUM (int8 and int16), host half: TFLM's maximum_minimum.cc.

TFLM compares the raw int8 codes and copies the winner: no rescale, no
zero point, whatever the tensors' scales say (converters give all three
tensors one scale; with different scales TFLM's bytes are still what it
computes, and edgeloop's equal them). Broadcasting and a constant operand:
ops/binary.py. TFLM's int16 kernels compare int16 codes the same way
(16x8 mode: WIDTH 2, offsets in bytes, strides in values).

Params: edgeloop_fw/runtime/opspec.py ("maximum_minimum"); MODE 0 max, 1 min.
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack

from ..graph import Context, OpPlan
from .binary import operands

MODES = {"MAXIMUM": 0, "MINIMUM": 1}


def prepare(ctx: Context) -> OpPlan:
    op = operands(ctx, wide=ctx.tensor(0).dtype == "int16")  # one kernel for both widths
    width = 2 if op.y.dtype == "int16" else 1
    if width == 2:
        op.fields["broadcast"] = 1  # the kernel's int16 walk is the strided one
    params = pack("maximum_minimum", **op.fields, mode=MODES[ctx.op.name], width=width)
    return OpPlan(params, reads=op.reads, writes=[op.y.index], scratch=op.scratch)
