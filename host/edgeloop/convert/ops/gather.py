"""GATHER (int8 values, constant indices), host half: TFLM's gather Prepare.

Seen as [OUTER, AXIS_SIZE, INNER], the output is [OUTER, N_INDICES, INNER]
with row i taken from input row INDICES[i] -- bytes copied, as TFLM does.
The indices must be constants (an int32 activation is not an int8 tensor
this runtime holds), are checked to lie in [0, AXIS_SIZE) here (TFLM fails
the invoke on one outside), and travel in the params. batch_dims other than
0 is refused. Params: edgeloop_fw/runtime/opspec.py ("gather").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan
from .common import axis_of, constant_ints


def prepare(ctx: Context) -> OpPlan:
    x, idx, y = ctx.tensor(0), ctx.tensor(1), ctx.tensor(0, outputs=True)
    ctx.need_int8(x, "input")
    ctx.need_int8(y, "output")
    if x.is_constant:
        raise ctx.refuse("gathering from a constant table is not supported (its indices would be an int32 "
                         "activation); edgeloop gathers from int8 activations with constant indices")
    if ctx.op.options.int32(1) != 0:
        raise ctx.refuse(f"GATHER with batch_dims {ctx.op.options.int32(1)} is not supported (only 0)")
    indices = constant_ints(ctx, idx, "the indices")
    dims = [int(d) for d in x.shape]
    axis = axis_of(ctx, ctx.op.options.int32(0), len(dims))
    bad = [i for i in indices if not 0 <= i < dims[axis]]
    if bad:
        raise ctx.refuse(f"indices {bad[:5]} are outside [0, {dims[axis]}) of axis {axis}")
    want = dims[:axis] + [int(d) for d in idx.shape] + dims[axis + 1:]
    if list(y.shape) != want:
        raise ctx.refuse(f"output {list(y.shape)} is not the gathered shape {want}")
    params = pack("gather", outer=int(np.prod(dims[:axis], dtype=np.int64)), axis_size=dims[axis],
                  inner=int(np.prod(dims[axis + 1:], dtype=np.int64)), input=Arena(x.index),
                  output=Arena(y.index), n_indices=len(indices), indices=[(i,) for i in indices])
    return OpPlan(params, reads=[x.index], writes=[y.index])
