"""TRANSPOSE (int8 and int16), host half: tflite::reference_ops::Transpose as strides.

A permutation moves bytes and changes no value (TFLM's int8 kernel copies;
the converter gives input and output one quantization), so all the work is
done here: the output is walked in order through at most four nested loops,
and each loop's step in the input is the input stride of the axis it came
from. Lower ranks are padded with leading axes of size 1. Steps are bytes; int16
values (16x8 mode, TFLM's int16 TRANSPOSE copies too) take an innermost axis
of their two bytes (common.with_byte_axis).

PyTorch models bring it (litert-torch keeps NCHW semantics: a Flatten after
a convolution becomes TRANSPOSE + RESHAPE), and so do Keras Permute layers.
Params: edgeloop_fw/runtime/opspec.py ("transpose").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Context, OpPlan
from .common import value_width, with_byte_axis

MAX_RANK = 4


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    width = value_width(ctx, x, "input")
    if value_width(ctx, y, "output") != width:
        raise ctx.refuse(f"input is {x.dtype}, output {y.dtype}; TRANSPOSE copies values of one type")
    if x.is_constant:
        raise ctx.refuse("transposing a constant is not supported; fold it in the converter")
    perm = [int(p) for p in np.asarray(ctx.need_constant(ctx.tensor(1), "the permutation")).reshape(-1)]
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise ctx.refuse(f"a rank-{rank} transpose is not supported (at most {MAX_RANK} axes)")
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise ctx.refuse(f"permutation {perm} is not one of the input's {rank} axes")
    if list(y.shape) != [x.shape[p] for p in perm]:
        raise ctx.refuse(f"output {list(y.shape)} is not input {list(x.shape)} permuted by {perm}")
    if float(np.float32(ctx.scale(x))) != float(np.float32(ctx.scale(y))) or ctx.zero_point(x) != ctx.zero_point(y):
        raise ctx.refuse("input and output are quantized differently; TFLM's TRANSPOSE copies values unchanged")
    in_strides = [int(np.prod(x.shape[a + 1:], dtype=np.int64)) for a in range(rank)]
    pad = MAX_RANK - rank
    dims = [1] * pad + [x.shape[p] for p in perm]
    strides = [0] * pad + [in_strides[p] * width for p in perm]
    dims, strides = with_byte_axis(ctx, dims, strides, width, "transpose")
    params = pack("transpose", input=Arena(x.index), output=Arena(y.index), dims=dims, strides=strides)
    return OpPlan(params, reads=[x.index], writes=[y.index], macs=0)
