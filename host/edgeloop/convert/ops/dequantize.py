"""DEQUANTIZE (int8 -> float32), host half: TFLM's reference_ops::Dequantize as a table.

TFLM computes float(double(scale) * (x - zero_point)) per element. With an
int8 input that is one of 256 float32 values, so the host computes them all
(in the same double arithmetic) and the board copies four bytes per element
from the table: no float math on the board, TFLM's bits by construction.
A float32 model output is accepted only when a DEQUANTIZE makes it
(edgeloop.convert.int8).

Params: edgeloop_fw/runtime/opspec.py ("dequantize").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch


def dequantize_table(scale: float, zero_point: int) -> bytes:
    """256 little-endian float32 values, indexed by x + 128."""
    codes = np.arange(-128, 128, dtype=np.float64)
    return (np.float64(np.float32(scale)) * (codes - zero_point)).astype("<f4").tobytes()


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    if y.dtype != "float32":
        raise ctx.refuse(f"output '{y.name}' is {y.dtype}; edgeloop's DEQUANTIZE makes float32")
    if x.per_channel:
        raise ctx.refuse("per-channel dequantization is not supported (one scale per tensor)")
    n = int(np.prod(x.shape, dtype=np.int64))
    params = pack("dequantize", n=n, input=Arena(x.index), output=Arena(y.index),
                  table=Const(dequantize_table(ctx.scale(x), ctx.zero_point(x))), scratch=Scratch())
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=1024)
