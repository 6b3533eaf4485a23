"""FULLY_CONNECTED, int8: tflite::reference_integer_ops::FullyConnected.

The weights stay in the model file: each unit's row is read in CHUNK-byte
pieces into this op's scratch in the arena, so heap use does not grow with
the model. `bind` makes the arena views once, at load; `eval` then allocates
nothing (requantization with small-int limbs, see qmath.mbqm). Param layout:
see ../opspec.py.
"""

from ..qmath import mbqm

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
BATCHES = const(0)
DEPTH = const(1)
UNITS = const(2)
INPUT = const(3)
OUTPUT = const(4)
WEIGHTS = const(5)
SCRATCH = const(6)
CHUNK = const(7)
OUTPUT_OFFSET = const(8)
ACT_MIN = const(9)
ACT_MAX = const(10)
PER_UNIT = const(11)
PER_UNIT_STEP = const(3)
BIAS = const(0)
SHIFT = const(2)
# --- end generated ---


def bind(p, arena):
    """(weight piece, last shorter weight piece, the whole input): views made once."""
    s = p[SCRATCH]
    chunk = p[CHUNK]
    last = p[DEPTH] % chunk or chunk
    return arena[s:s + chunk], arena[s:s + last], arena[p[INPUT]:p[INPUT] + p[BATCHES] * p[DEPTH]]


def eval(p, arena, model, views=None):
    w, wlast, x = views or bind(p, arena)
    depth = p[DEPTH]
    units = p[UNITS]
    chunk = p[CHUNK]
    zp = p[OUTPUT_OFFSET]
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    weights = p[WEIGHTS]
    tail = PER_UNIT + PER_UNIT_STEP * units  # quant.limb_tail: STEP, then the limbs
    step = p[tail]
    for b in range(p[BATCHES]):
        x0 = b * depth
        y = p[OUTPUT] + b * units
        for c in range(units):
            q = PER_UNIT + PER_UNIT_STEP * c
            acc = p[q + BIAS]
            row = weights + c * depth
            d = 0
            while d < depth:
                n = depth - d
                if n >= chunk:
                    n = chunk
                    model.read_const(row + d, w)
                    ws = w
                else:
                    model.read_const(row + d, wlast)
                    ws = wlast
                xo = x0 + d
                for k in range(n):
                    acc += ws[k] * x[xo + k]
                d += n
            m = tail + 1 + step * c
            acc = mbqm(acc, p[m], p[m + 1], p[m + 2], p[q + SHIFT]) + zp
            if acc < lo:
                acc = lo
            elif acc > hi:
                acc = hi
            arena[y + c] = acc
