"""LOGISTIC and TANH, int16 host half: TFLM's prepare for int16 LOGISTIC / TANH.

TFLM interpolates in a stored 256-entry uint16 table, 65536 sigmoid(k / 24); lstm.sigmoid_table
computes the same 256 values (the test over every int16 input at several scales is the proof),
written to the file once per op for the board to read into scratch. TFLM's prepare needs zero
points 0 and an output scale of 2**-15, and rescales the input to the table's 1/(3 * 4096)
scale: a power-of-two input scale (CheckedLog2, float32, within 1e-3 of an integer log) of
2**-12 (LOGISTIC; TANH also 2**-11) multiplies by 3 << shift with no shift; any other doubles
s_in * 4096 * 3 (double) until it passes 32767 / 2 and truncates it, the doublings being the shift.

Params: edgeloop_fw/runtime/opspec.py ("logistic_16x8").
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import tflite_round
from .lstm import sigmoid_table
from .wide import need_int16

_F = np.float32


def checked_log2(x: float) -> tuple[bool, int]:
    """tflite::CheckedLog2 in float32: (is a power of two within 1e-3 of the log, the rounded log)."""
    log2 = _F(np.log(_F(x)) * _F(_F(1) / np.log(_F(2))))
    rounded = tflite_round(float(log2))
    return abs(float(_F(log2 - _F(rounded)))) < 1e-3, rounded


def input_rescale(scale: float, tanh: bool) -> tuple[int, int]:
    """(multiplier, shift) as TFLM's kernel applies them: (x * multiplier + round) >> shift."""
    pot, log2 = checked_log2(scale)
    shift = 12 + log2
    if pot and (shift == 0 or tanh and shift == 1):
        return 3 << shift, 0  # the kernel's power-of-two case
    m = float(_F(scale)) * 4096.0 * 3.0
    shift = 0
    while m <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        m *= 2.0
    return int(m), shift


def table() -> bytes:
    return np.asarray(sigmoid_table(), "<u2").tobytes()


def prepare(ctx: Context) -> OpPlan:
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    name = ctx.op.name
    need_int16(ctx, x, "input")
    need_int16(ctx, y, "output")
    pot, log2 = checked_log2(ctx.scale(y))
    if not pot or log2 != -15:
        raise ctx.refuse(f"int16 {name} output must have scale 2**-15 (TFLM's requirement); got {ctx.scale(y)}")
    tanh = name == "TANH"
    m, shift = input_rescale(ctx.scale(x), tanh)
    if m > 32767:  # TFLM checks this (a debug check); past it its int32 product can overflow
        raise ctx.refuse(f"int16 {name} input scale {ctx.scale(x):g} is above TFLM's limit "
                         f"(32767 / (3 * 4096) = {32767 / 12288:.3f})")
    n = int(np.prod(x.shape, dtype=np.int64))
    params = pack("logistic_16x8", n=n, input=Arena(x.index), output=Arena(y.index), tanh=int(tanh),
                  multiplier=m, shift=shift, table=Const(table()), scratch=Scratch())
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=512, macs=0)
