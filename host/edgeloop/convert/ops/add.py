"""ADD (int8), host half: TFLM's CalculateOpDataAdd.

Both inputs are brought to a common scale (twice the larger input scale)
with left_shift = 20 of headroom, summed, and rescaled to the output; the
three multipliers come from QuantizeMultiplierSmallerThanOneExp on doubles.
Broadcasting (one side smaller, as TFLM's BroadcastAdd6DSlow allows) is
planned here as per-dimension strides over a 4-D output, 0 where an input
repeats.

Params: edgeloop_fw/runtime/opspec.py ("add"); N counts output elements.
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Context, OpPlan
from ..quant import activation_range, quantize_multiplier

LEFT_SHIFT = 20


def smaller_than_one(real: float, ctx: Context) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp."""
    if not 0.0 < real < 1.0:
        raise ctx.refuse(f"rescale factor {real} is outside (0, 1); the tensor scales are inconsistent")
    m, shift = quantize_multiplier(real)
    return m, shift


def add_params(s1: float, s2: float, s_out: float, ctx: Context, left_shift: int = LEFT_SHIFT) -> list[int]:
    s1, s2, s_out = (float(np.float32(s)) for s in (s1, s2, s_out))
    twice_max = 2.0 * max(s1, s2)
    m1 = smaller_than_one(s1 / twice_max, ctx)
    m2 = smaller_than_one(s2 / twice_max, ctx)
    mo = smaller_than_one(twice_max / ((1 << left_shift) * s_out), ctx)
    return [*m1, *m2, *mo]


def broadcast_strides(shape: tuple, out4: tuple) -> list[int]:
    """Strides of `shape` (right-aligned to 4-D) over the 4-D output, 0 where it repeats."""
    s4 = (1,) * (4 - len(shape)) + tuple(shape)
    strides, step = [0] * 4, 1
    for d in range(3, -1, -1):
        strides[d] = 0 if s4[d] == 1 else step  # a size-1 dimension repeats (or runs once)
        step *= s4[d]
    return strides


def prepare(ctx: Context) -> OpPlan:
    a, b, y = ctx.tensor(0), ctx.tensor(1), ctx.tensor(0, outputs=True)
    for t, role in ((a, "first input"), (b, "second input"), (y, "output")):
        ctx.need_int8(t, role)
    return plan(ctx, "add", LEFT_SHIFT, -128, 127)


def plan(ctx: Context, kernel: str, left_shift: int, qmin: int, qmax: int) -> OpPlan:
    """The params of `kernel` (add or add_16x8: one layout) once the dtypes are checked."""
    a, b, y = ctx.tensor(0), ctx.tensor(1), ctx.tensor(0, outputs=True)
    for t, role in ((a, "first input"), (b, "second input"), (y, "output")):
        if t.is_constant:
            raise ctx.refuse(f"{role} '{t.name}' is a constant; edgeloop's ADD takes two activations")
    if len(y.shape) > 4:
        raise ctx.refuse(f"ADD of rank {len(y.shape)} is not supported (up to 4-D)")
    out4 = (1,) * (4 - len(y.shape)) + tuple(y.shape)
    for t in (a, b):
        t4 = (1,) * (4 - len(t.shape)) + tuple(t.shape)
        if len(t.shape) > 4 or any(d not in (1, o) for d, o in zip(t4, out4)):
            raise ctx.refuse(f"input {t.shape} does not broadcast to the output {y.shape}")
    n = int(np.prod(y.shape, dtype=np.int64))
    broadcast = int(tuple(a.shape) != tuple(y.shape) or tuple(b.shape) != tuple(y.shape))
    act_min, act_max = activation_range(ctx.op.options.int8(0), ctx.scale(y), ctx.zero_point(y), qmin, qmax)
    m1, s1, m2, s2, mo, so = add_params(ctx.scale(a), ctx.scale(b), ctx.scale(y), ctx, left_shift)
    params = pack(kernel, n=n, broadcast=broadcast, input1=Arena(a.index), input2=Arena(b.index),
                  output=Arena(y.index), input1_offset=-ctx.zero_point(a), input2_offset=-ctx.zero_point(b),
                  output_offset=ctx.zero_point(y), left_shift=left_shift, input1_multiplier=m1,
                  input1_shift=s1, input2_multiplier=m2, input2_shift=s2, output_multiplier=mo,
                  output_shift=so, act_min=act_min, act_max=act_max, dims=out4,
                  strides1=broadcast_strides(a.shape, out4), strides2=broadcast_strides(b.shape, out4),
                  limbs=[*split(m1), *split(m2), *split(mo)])
    return OpPlan(params, reads=[a.index, b.index], writes=[y.index], macs=n)
