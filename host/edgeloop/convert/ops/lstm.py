"""UNIDIRECTIONAL_SEQUENCE_LSTM (int8 activations, int16 cell), host half: TFLM's integer Prepare.

TFLM (lstm_eval_common.cc, PrepareGateParametersInteger) fixes the scales the
gates compute in: each gate's two fully connected outputs are int16 at 2**-12
(Q3.12), the sigmoid and tanh outputs int16 at 2**-15 (Q0.15); the cell state
keeps its tensor's scale, which must be a power of two, and the hidden state
is int8 at the output's scale. So every multiplier is known here and the
board only multiplies, adds and looks up (edgeloop_fw/runtime/kernels/lstm.py).

The input zero point is folded into each gate's bias and the hidden-state
zero point into a recurrent bias, as FULLY_CONNECTED does. The four gates'
weights go into the file as one row per unit and gate (input weights, then
recurrent weights), so one read gives a unit both of its dot products.

Only the plain LSTM Keras and the converter produce is taken: no peephole,
projection, layer norm or CIFG, a tanh cell, batch-major input (or time-major
with one batch). Params: edgeloop_fw/runtime/opspec.py ("lstm").
The 16x8 LSTM (ops/lstm_16x8.py) shares the checks and geometry (`plain_lstm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgeloop_fw.runtime.opspec import pack
from edgeloop_fw.runtime.qmath import split

from ..graph import Arena, Const, Context, OpPlan, Scratch
from ..quant import conv_multiplier_per_tensor, quantize_multiplier

# Input positions in TFLite's LSTM operator.
INPUT_WEIGHTS = (1, 2, 3, 4)      # input to input, forget, cell, output gate
RECURRENT_WEIGHTS = (5, 6, 7, 8)
BIASES = (12, 13, 14, 15)
UNSUPPORTED = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
               20: "layer norm", 21: "layer norm", 22: "layer norm", 23: "layer norm"}
HIDDEN, CELL = 18, 19
FC_OUTPUT_SCALE = 2.0 ** -12   # TFLM's nonlinear_input_scale (Q3.12)
GATE_SCALE = 2.0 ** -15        # TFLM's nonlinear_output_scale (Q0.15)
ACT_TANH = 4


def sigmoid_table() -> list[int]:
    """The 256-entry uint16 table TFLM's int16 sigmoid and tanh interpolate in.

    Entry k is 65536 * sigmoid(k / 24) lifted by half the linear interpolation's
    error at the middle of the interval after it (so the interpolation errs on
    both sides equally), rounded; the last entry is the curve's 16-bit end, 65535
    (the formula gives 65534 there). TFLM stores the table as a constant; these are
    its values, as TFLM's own outputs show: the LSTM tests, and the int16 LOGISTIC /
    TANH (ops/logistic_16x8.py) on every input code at many input scales.
    """
    def f(x):
        return 65536.0 / (1.0 + math.exp(-x))

    h = 1.0 / 24
    out = []
    for k in range(255):
        a, b, m = f(k * h), f((k + 1) * h), f((k + 0.5) * h)
        out.append(min(65535, math.floor(a + (m - (a + b) / 2) / 2 + 0.5)))
    return out + [65535]


def _q(m: tuple[int, int]) -> list[int]:
    return [*split(m[0]), m[1]]


@dataclass
class Plain:
    """What TFLM's integer LSTM Prepare fixes for either activation width (ops/lstm_16x8.py too)."""
    x: object
    y: object
    batches: int
    steps: int
    feats: int
    units: int
    h_scale: float
    h_zp: int
    c_scale: float
    cell_mult: int
    cell_shift: int
    q_clip: int
    w_in: list
    w_rec: list
    rows: bytes  # each gate's and unit's input-weight row, then its recurrent-weight row

    def mul_q(self) -> list[int]:
        """TFLM's CreateInterGateMulParams: the scales' product and quotient in double."""
        return (_q(quantize_multiplier(GATE_SCALE * self.c_scale / self.c_scale))
                + _q(quantize_multiplier(GATE_SCALE * GATE_SCALE / self.c_scale))
                + _q(quantize_multiplier(GATE_SCALE * GATE_SCALE / float(np.float32(self.h_scale)))))


def plain_lstm(ctx: Context, need) -> Plain:
    """The checks and geometry of a plain LSTM; `need(tensor, role)` refuses a wrong activation type."""
    x, y = ctx.tensor(0), ctx.tensor(0, outputs=True)
    need(x, "input")
    need(y, "output")
    for pos, what in UNSUPPORTED.items():
        if ctx.tensor(pos) is not None:
            raise ctx.refuse(f"an LSTM with {what} weights is not supported (a plain Keras LSTM has none)")
    if ctx.tensor(1) is None:
        raise ctx.refuse("a CIFG LSTM (no input gate) is not supported")
    opts = ctx.op.options
    if opts.int8(0) != ACT_TANH:
        raise ctx.refuse("only a tanh cell activation is supported (Keras' default)")
    time_major = opts.bool(3)
    hidden, cell = ctx.tensor(HIDDEN), ctx.tensor(CELL)
    if hidden is None or cell is None:
        raise ctx.refuse("the hidden and cell state tensors are missing")
    need(hidden, "hidden state")
    if cell.dtype != "int16":
        raise ctx.refuse(f"cell state '{cell.name}' is {cell.dtype}; edgeloop runs TFLM's int16 cell state")
    if len(x.shape) != 3 or len(y.shape) != 3:
        raise ctx.refuse(f"input {list(x.shape)} and output {list(y.shape)} must be [batch, time, features]")
    steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    if time_major and batches != 1:
        raise ctx.refuse("a time-major LSTM with more than one batch is not supported")
    feats = int(x.shape[2])
    w_in = [ctx.need_constant(ctx.tensor(i), "the LSTM weights") for i in INPUT_WEIGHTS]
    w_rec = [ctx.need_constant(ctx.tensor(i), "the LSTM weights") for i in RECURRENT_WEIGHTS]
    units = int(w_in[0].shape[0])
    for i in INPUT_WEIGHTS + RECURRENT_WEIGHTS:
        t = ctx.tensor(i)
        if t.dtype != "int8" or t.per_channel or (t.zero_point.size and np.any(t.zero_point != 0)):
            raise ctx.refuse(f"LSTM weights '{t.name}' must be int8, per-tensor and symmetric")
    if any(w.shape != (units, feats) for w in w_in) or any(w.shape != (units, units) for w in w_rec):
        raise ctx.refuse(f"LSTM weights do not fit {feats} features and {units} units")
    if int(y.shape[2]) != units or int(np.prod(y.shape)) != batches * steps * units:
        raise ctx.refuse(f"output {list(y.shape)} is not one {units}-unit state per time step")
    h_scale, h_zp = ctx.scale(hidden), ctx.zero_point(hidden)
    if np.float32(ctx.scale(y)) != np.float32(h_scale) or ctx.zero_point(y) != h_zp:
        raise ctx.refuse("the output is quantized unlike the hidden state; TFLM copies one into the other")
    c_scale = float(np.float32(ctx.scale(cell)))
    power = math.log2(c_scale)
    if abs(power - round(power)) > 1e-6:
        raise ctx.refuse(f"cell state scale {c_scale} is not a power of two, which TFLM's int16 tanh needs")
    power = int(round(power))
    tanh_left = 15 + power - 3  # TFLM's lstm_internal::Tanh
    cell_mult, cell_shift = (3 << tanh_left, 0) if tanh_left >= 0 else (3, -tanh_left)
    clip = float(np.float32(opts.float32(1)))
    q_clip = int(min(max(clip / c_scale, -32768.0), 32767.0)) if clip > 0 else 0
    rows = np.concatenate([np.concatenate([w_in[g], w_rec[g]], axis=1).astype(np.int8) for g in range(4)])
    return Plain(x, y, int(batches), int(steps), feats, units, h_scale, h_zp, c_scale, cell_mult, cell_shift,
                 q_clip, w_in, w_rec, rows.tobytes())


def gate_multipliers(ctx: Context, p: Plain, g: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """TFLM's CreateGateParams: gate g's input and recurrent FC multipliers to Q3.12."""
    return (quantize_multiplier(conv_multiplier_per_tensor(ctx.scale(p.x), ctx.scale(ctx.tensor(INPUT_WEIGHTS[g])),
                                                           FC_OUTPUT_SCALE)),
            quantize_multiplier(conv_multiplier_per_tensor(p.h_scale, ctx.scale(ctx.tensor(RECURRENT_WEIGHTS[g])),
                                                           FC_OUTPUT_SCALE)))


def prepare(ctx: Context) -> OpPlan:
    p = plain_lstm(ctx, ctx.need_int8)
    x, y, units = p.x, p.y, p.units
    biases = []
    for i in BIASES:
        b = ctx.tensor(i)
        biases.append(np.zeros(units, np.int64) if b is None else
                      ctx.need_constant(b, "the LSTM bias").astype(np.int64).reshape(-1))
    in_off, h_off = -ctx.zero_point(x), -p.h_zp
    gate_q, per_unit = [], [[] for _ in range(units)]
    for g in range(4):
        wi, wr = p.w_in[g].astype(np.int64), p.w_rec[g].astype(np.int64)
        m_in, m_rec = gate_multipliers(ctx, p, g)
        gate_q += _q(m_in) + _q(m_rec)
        b_in = biases[g] + in_off * wi.sum(axis=1)
        b_rec = h_off * wr.sum(axis=1)
        for k in range(units):
            per_unit[k] += [int(b_in[k]), int(b_rec[k])]
    params = pack("lstm", batches=p.batches, steps=p.steps, features=p.feats, units=units, input=Arena(x.index),
                  output=Arena(y.index), weights=Const(p.rows), scratch=Scratch(),
                  hidden_zp=p.h_zp, cell_clip=p.q_clip, cell_tanh_mult=p.cell_mult, cell_tanh_shift=p.cell_shift,
                  gate_q=gate_q, mul_q=p.mul_q(), sigmoid=sigmoid_table(), per_unit=per_unit)
    return OpPlan(params, reads=[x.index], writes=[y.index], scratch=p.feats + units,
                  macs=p.batches * p.steps * 4 * units * (p.feats + units))
