"""RESHAPE, host half: no params (opspec.py), the output is the input's bytes (an alias)."""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack

from ..graph import Context, OpPlan


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    if x.is_constant:
        raise ctx.refuse("reshaping a constant is not supported; fold it in the converter")
    if x.nbytes != y.nbytes or x.dtype != y.dtype:
        raise ctx.refuse(f"input {x.dtype}{list(x.shape)} and output {y.dtype}{list(y.shape)} differ in size")
    return OpPlan(pack("reshape"), reads=[x.index], writes=[y.index], alias=(y.index, x.index))
