"""UNIDIRECTIONAL_SEQUENCE_LSTM in 16x8, host half: TFLM's integer Prepare for int16 activations.

TFLM runs one LSTM evaluation templated over the activation and bias types,
so everything ops/lstm.py computes holds (Q3.12 gate FCs, Q0.15 gates, the
power-of-two int16 cell, the Mul multipliers), with the 16x8 differences:
input, hidden state and output are int16 at zero point 0 (nothing to fold),
the gate biases are int64, and each gate FC's int64 sum is requantized with
TFLM's int64 MultiplyByQuantizedMultiplier (ops/wide.requant64). No converter
makes such a model; TFLM runs a hand-built one (tests/tools/lstm_models.to_16x8).
Params: edgeloop_fw/runtime/opspec.py ("lstm_16x8").
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import pack

from ..graph import Arena, Const, Context, OpPlan, Scratch
from .lstm import BIASES, Plain, gate_multipliers, plain_lstm, sigmoid_table
from .wide import bias64, need_int16, split64, requant64


def _multipliers(ctx: Context, p: Plain, g: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Gate g's input and recurrent FC multipliers to Q3.12: the int8 LSTM's (scales' product in double).

    TFLM's int64 requantization keeps only 16 bits of the multiplier, rounded half up, and a
    float32 scale product (what TFLM's source reads) gives a 31-bit multiplier that is a
    multiple of 128, so one in 512 lands exactly on that rounding's tie. The installed TFLM's
    bytes follow the double product there (a float32 product's tie sent a recurrent FC of
    -100.49 to -101 instead of -100: tests/host/convert/test_lstm_16x8.py)."""
    return gate_multipliers(ctx, p, g)


def prepare(ctx: Context) -> OpPlan:
    p = plain_lstm(ctx, lambda t, role: need_int16(ctx, t, role))
    units = p.units
    gate_q, per_unit = [], [[] for _ in range(units)]
    bound = (1 << 22) * units  # |int16 * int8| <= 2**22 per term of the recurrent sum
    for g in range(4):
        m_in, m_rec = _multipliers(ctx, p, g)
        gate_q += [*requant64(ctx, *m_in), *requant64(ctx, *m_rec)]
        bias = bias64(ctx, ctx.tensor(BIASES[g]), units)
        for k in range(units):
            per_unit[k] += split64(bias[k])
        bound = max(bound, (1 << 22) * p.feats + int(abs(bias).max()))
    params = pack("lstm_16x8", batches=p.batches, steps=p.steps, features=p.feats, units=units,
                  input=Arena(p.x.index), output=Arena(p.y.index), weights=Const(p.rows), scratch=Scratch(),
                  hidden_zp=0, cell_clip=p.q_clip, cell_tanh_mult=p.cell_mult, cell_tanh_shift=p.cell_shift,
                  gate_q=gate_q, mul_q=p.mul_q(), sigmoid=sigmoid_table(), per_unit=per_unit)
    return OpPlan(params, reads=[p.x.index], writes=[p.y.index], scratch=p.feats + units,
                  macs=p.batches * p.steps * 4 * units * (p.feats + units), acc_bound=bound)
