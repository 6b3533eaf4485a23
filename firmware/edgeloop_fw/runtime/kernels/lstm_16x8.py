"""UNIDIRECTIONAL_SEQUENCE_LSTM, 16x8: TFLM's integer LSTM with int16 input, hidden state and output.

TFLM templates one LSTM evaluation over the activation and bias types, so
this is kernels/lstm.py's step with three changes: the input and hidden
state are int16 at zero point 0 (read as (hi << 8) | (lo & 255), nothing
folded), each gate's input FC adds TFLM's int64 bias and both FCs requantize
their int64 sums with TFLM's int64 MultiplyByQuantizedMultiplier
(qmath.mbqm64; TFLM's recurrent FC has no bias), and the hidden state
o * tanh(cell) is clamped to int16. The sigmoid, tanh and the int16 cell
arithmetic are lstm.py's own functions: the params keep lstm's layout up to
the table they read (opspec "lstm_16x8").

Sums stay small ints while 2**22 * (FEATURES or UNITS) + |bias| < 2**30
(the host's acc_bound), so an inference allocates nothing. State starts at
zero on every inference, as in lstm.py. Param layout: ../opspec.py.
"""

from array import array

from ..qmath import mbqm, mbqm64
from .lstm import _sat16, _sigmoid, _tanh

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
BATCHES = const(0)
STEPS = const(1)
FEATURES = const(2)
UNITS = const(3)
INPUT = const(4)
OUTPUT = const(5)
WEIGHTS = const(6)
SCRATCH = const(7)
HIDDEN_ZP = const(8)
CELL_CLIP = const(9)
CELL_TANH_MULT = const(10)
CELL_TANH_SHIFT = const(11)
GATE_Q = const(12)
MUL_Q = const(44)
PER_UNIT = const(312)
PER_UNIT_STEP = const(8)
# --- end generated ---


def bind(p, arena):
    """(weight rows view, hidden int16, cell int16, gate values int16 [4 * UNITS]), made once."""
    s = p[SCRATCH]
    u = p[UNITS]
    return arena[s:s + p[FEATURES] + u], array("h", bytes(2 * u)), array("h", bytes(2 * u)), array("h", bytes(8 * u))


def eval(p, arena, model, views=None):
    w, hid, cell, gates = views or bind(p, arena)
    feats = p[FEATURES]
    units = p[UNITS]
    steps = p[STEPS]
    row = feats + units
    weights = p[WEIGHTS]
    zp = p[HIDDEN_ZP]
    clip = p[CELL_CLIP]
    cm = p[CELL_TANH_MULT]
    cs = p[CELL_TANH_SHIFT]
    for b in range(p[BATCHES]):
        for k in range(units):  # TFLM's reset: both states 0
            hid[k] = zp
            cell[k] = 0
        x = p[INPUT] + 2 * b * steps * feats
        y = p[OUTPUT] + 2 * b * steps * units
        for _ in range(steps):
            for g in range(4):
                q = GATE_Q + 8 * g
                for k in range(units):
                    model.read_const(weights + (g * units + k) * row, w)
                    u = PER_UNIT + PER_UNIT_STEP * k + 2 * g
                    acc = p[u + 1]
                    xo = x
                    for d in range(feats):
                        acc += w[d] * ((arena[xo + 1] << 8) | (arena[xo] & 255))
                        xo += 2
                    if p[u]:  # a bias beyond int32 (a shift by 32 is never a small int)
                        acc += p[u] << 32
                    rec = 0
                    for d in range(units):
                        rec += w[feats + d] * hid[d]
                    v = _sat16(_sat16(mbqm64(acc, p[q + 2], p[q + 3])) + _sat16(mbqm64(rec, p[q + 6], p[q + 7])))
                    gates[g * units + k] = _tanh(p, v, 3, 0) if g == 2 else _sigmoid(p, v)
            # Every gate used the previous hidden state; now both states move on.
            for k in range(units):
                c = _sat16(mbqm(gates[units + k] * cell[k], p[MUL_Q], p[MUL_Q + 1], p[MUL_Q + 2], p[MUL_Q + 3]))
                c += _sat16(mbqm(gates[k] * gates[2 * units + k],
                                 p[MUL_Q + 4], p[MUL_Q + 5], p[MUL_Q + 6], p[MUL_Q + 7]))
                c = _sat16(c)
                if clip:
                    if c > clip:
                        c = clip
                    elif c < -clip:
                        c = -clip
                cell[k] = c
                h = _sat16(zp + mbqm(_tanh(p, c, cm, cs) * gates[3 * units + k],
                                     p[MUL_Q + 8], p[MUL_Q + 9], p[MUL_Q + 10], p[MUL_Q + 11]))
                hid[k] = h
                o = y + 2 * k
                arena[o] = ((h + 128) & 255) - 128
                arena[o + 1] = h >> 8
            x += 2 * feats
            y += 2 * units
