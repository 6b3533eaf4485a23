"""UNIDIRECTIONAL_SEQUENCE_LSTM (int8 activations, int16 cell): TFLM's integer LSTM.

Per time step each gate is FC(input) + FC(hidden), both requantized to int16
in Q3.12 and added with saturation, then the int16 sigmoid (tanh for the
cell gate) of TFLM's interpolated table gives Q0.15. The cell state (int16,
a power-of-two scale) becomes forget*cell + input*cell_gate, the hidden state
(int8) output*tanh(cell); every product is requantized as TFLM's int16 Mul.
The host folded the input and hidden zero points into the biases and
computed every multiplier (edgeloop/convert/ops/lstm.py).

State starts at zero on every inference (TFLM's state after `reset`), as a
Keras layer that is not `stateful` does; TFLM itself carries it from one
invoke to the next until reset. The states and gate values live in arrays made once at load
(`bind`); each unit's weight rows are read from the model file into the
op's scratch, so an inference allocates nothing. Param layout: ../opspec.py.

The viper and native levels (viper/lstm.py, native/lstm.py) run this same
time loop and gate arithmetic and replace only the MACs: `eval`'s `dots`
writes one step's raw int32 sums of all 4 * UNITS rows (input half, then
recurrent half; no bias) into an int32 array carried as views[4].
"""

from array import array

from ..qmath import mbqm

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
SIGMOID = const(56)
PER_UNIT = const(312)
PER_UNIT_STEP = const(8)
# --- end generated ---


def bind(p, arena):
    """(weight rows view, hidden int8, cell int16, gate values int16 [4 * UNITS]), made once."""
    s = p[SCRATCH]
    u = p[UNITS]
    return arena[s:s + p[FEATURES] + u], array("b", bytes(u)), array("h", bytes(2 * u)), array("h", bytes(8 * u))


def _sat16(v):
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return v


def _sigmoid(p, v):
    """tflite::reference_integer_ops::Logistic on int16 Q3.12 -> Q0.15 (multiplier 3, no shift)."""
    v *= 3
    a = -v if v < 0 else v
    h = a >> 9
    if h >= 255:
        r = 0x7FFF << 10
    else:
        lo = p[SIGMOID + h]
        r = (lo << 9) + (a & 0x1FF) * (p[SIGMOID + h + 1] - lo)
    if v >= 0:
        return (r + 512) >> 10
    return ((1 << 25) - r + 511) >> 10


def _tanh(p, v, mult, shift):
    """tflite::reference_integer_ops::Tanh on int16: input (v * MULT + round) >> SHIFT, output Q0.15."""
    if shift:
        v = (v * mult + (1 << (shift - 1))) >> shift
    else:
        v *= mult
    a = -v if v < 0 else v
    h = a >> 8
    if h >= 255:
        r = 0xFFFF << 8
    else:
        lo = p[SIGMOID + h]
        r = (lo << 8) + (a & 0xFF) * (p[SIGMOID + h + 1] - lo)
    if v >= 0:
        return (r - (1 << 23) + 128) >> 8
    return ((1 << 23) - r + 127) >> 8


def eval(p, arena, model, views=None, dots=None):
    """`dots(views, arena, x)` (viper/native levels): views[4][r] = W_in[r] . x and
    views[4][4 UNITS + r] = W_rec[r] . hidden for each gate row r; None: the Python MACs."""
    if views is None:
        views = bind(p, arena)
    w = views[0]
    hid = views[1]
    cell = views[2]
    gates = views[3]
    sums = views[4] if dots is not None else None
    feats = p[FEATURES]
    units = p[UNITS]
    steps = p[STEPS]
    row = feats + units
    rows = 4 * units
    weights = p[WEIGHTS]
    zp = p[HIDDEN_ZP]
    clip = p[CELL_CLIP]
    cm = p[CELL_TANH_MULT]
    cs = p[CELL_TANH_SHIFT]
    for b in range(p[BATCHES]):
        for k in range(units):  # TFLM's reset: int8 state at its zero point (real 0), cell at 0
            hid[k] = zp
            cell[k] = 0
        x = p[INPUT] + b * steps * feats
        y = p[OUTPUT] + b * steps * units
        for _ in range(steps):
            if dots is not None:
                dots(views, arena, x)
            for g in range(4):
                q = GATE_Q + 8 * g
                for k in range(units):
                    u = PER_UNIT + PER_UNIT_STEP * k + 2 * g
                    acc = p[u]
                    rec = p[u + 1]
                    if dots is None:
                        model.read_const(weights + (g * units + k) * row, w)
                        for d in range(feats):
                            acc += w[d] * arena[x + d]
                        for d in range(units):
                            rec += w[feats + d] * hid[d]
                    else:
                        acc += sums[g * units + k]
                        rec += sums[rows + g * units + k]
                    v = _sat16(_sat16(mbqm(acc, p[q], p[q + 1], p[q + 2], p[q + 3]))
                               + _sat16(mbqm(rec, p[q + 4], p[q + 5], p[q + 6], p[q + 7])))
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
                h = zp + mbqm(_tanh(p, c, cm, cs) * gates[3 * units + k],
                              p[MUL_Q + 8], p[MUL_Q + 9], p[MUL_Q + 10], p[MUL_Q + 11])
                if h > 127:
                    h = 127
                elif h < -128:
                    h = -128
                hid[k] = h
                arena[y + k] = h
            x += feats
            y += units
