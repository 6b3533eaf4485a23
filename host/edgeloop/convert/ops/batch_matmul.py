"""BATCH_MATMUL (int8, two activations), host half: TFLM's batch_matmul Prepare.

out[b, i, j] = requantize(sum_k (lhs'[b, i, k] - lhs_zp) * (rhs'[b, k, j] - rhs_zp)),
lhs' = lhs transposed in its last two dimensions when adj_x, rhs' likewise with
adj_y; batch dimensions broadcast. The multiplier is TFLM's
(GetQuantizedConvolutionMultipler: the scales' product in double, as the
installed TFLM computes it; quant.conv_multiplier_per_tensor), the clamp
the full int8 range. Transposition and broadcast become byte strides here, so
the board kernel is one loop nest. A constant operand is refused (the converter
makes a matmul by constant weights a FULLY_CONNECTED). Params:
edgeloop_fw/runtime/opspec.py ("batch_matmul").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Context, OpPlan
from ..quant import conv_multiplier_per_tensor, quantize_multiplier


def _batch_strides(ctx, shape, out_batches, role):
    """Elements per step of the output's two batch dimensions in an operand (0 where it broadcasts)."""
    dims = [1] * (4 - len(shape)) + [int(d) for d in shape]
    per = dims[2] * dims[3]
    strides = [dims[1] * per, per]
    out = []
    for d, o, st in zip(dims[:2], out_batches, strides):
        if d not in (1, o):
            raise ctx.refuse(f"{role} {list(shape)} does not broadcast to the output's batch {out_batches}")
        out.append(0 if d == 1 else st)
    return out


def prepare(ctx: Context) -> OpPlan:
    a, b, y = ctx.tensor(0), ctx.tensor(1), ctx.tensor(0, outputs=True)
    for t, role in ((a, "lhs"), (b, "rhs"), (y, "output")):
        ctx.need_int8(t, role)
    fields, n, depth = geometry(ctx, 1)
    mult, shift = quantize_multiplier(conv_multiplier_per_tensor(ctx.scale(a), ctx.scale(b), ctx.scale(y)))
    params = pack("batch_matmul", **fields, lhs_offset=-ctx.zero_point(a), rhs_offset=-ctx.zero_point(b),
                  output_offset=ctx.zero_point(y), multiplier=mult, shift=shift, limbs=split(mult))
    return OpPlan(params, reads=[a.index, b.index], writes=[y.index], macs=n * depth,
                  acc_bound=depth * 255 * 255)


def geometry(ctx: Context, size: int) -> tuple[dict, int, int]:
    """The shape and stride fields (strides in bytes: elements of `size` bytes), the output's
    element count and the depth, once the dtypes are checked."""
    a, b, y = ctx.tensor(0), ctx.tensor(1), ctx.tensor(0, outputs=True)
    for t, role in ((a, "lhs"), (b, "rhs"), (y, "output")):
        if t.is_constant:
            raise ctx.refuse(f"{role} '{t.name}' is a constant; edgeloop's BATCH_MATMUL multiplies two activations")
        if not 2 <= len(t.shape) <= 4:
            raise ctx.refuse(f"{role} has rank {len(t.shape)}; edgeloop's BATCH_MATMUL takes rank 2 to 4")
        if t.scale.size > 1:
            raise ctx.refuse(f"{role} '{t.name}' is quantized per channel; TFLM's BATCH_MATMUL is per tensor")
    adj_x, adj_y = ctx.op.options.bool(0), ctx.op.options.bool(1)
    ar, ac = int(a.shape[-2]), int(a.shape[-1])
    br, bc = int(b.shape[-2]), int(b.shape[-1])
    rows, depth = (ac, ar) if adj_x else (ar, ac)
    depth_b, cols = (bc, br) if adj_y else (br, bc)
    if depth != depth_b:
        raise ctx.refuse(f"lhs {list(a.shape)} and rhs {list(b.shape)} do not multiply (adj_x {adj_x}, adj_y {adj_y})")
    ydims = [1] * (4 - len(y.shape)) + [int(d) for d in y.shape]
    if ydims[2:] != [rows, cols]:
        raise ctx.refuse(f"output {list(y.shape)} is not {rows} x {cols}")
    batches = ydims[:2]
    fields = dict(batches=batches, rows=rows, cols=cols, depth=depth,
                  lhs=Arena(a.index), lhs_batch=[size * v for v in _batch_strides(ctx, a.shape, batches, "lhs")],
                  lhs_row=size * (1 if adj_x else ac), lhs_k=size * (ac if adj_x else 1),
                  rhs=Arena(b.index), rhs_batch=[size * v for v in _batch_strides(ctx, b.shape, batches, "rhs")],
                  rhs_k=size * (1 if adj_y else bc), rhs_col=size * (bc if adj_y else 1), output=Arena(y.index))
    return fields, int(np.prod(batches)) * rows * cols, depth
