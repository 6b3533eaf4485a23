"""FULLY_CONNECTED, 16x8: tflite::reference_integer_ops::FullyConnected (int16 in, int8 weights, int64 bias).

As the int8 kernel, weights are read piecewise into scratch; activations are
little-endian int16 in the signed-byte arena (two bytes per value, read as
(hi << 8) | (lo & 255)). Zero points are 0 (the host refuses others, as TFLM's
converter never makes them). Requantization: qmath.mbqm64. Param layout: ../opspec.py.
"""

from ..qmath import mbqm64

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
ACT_MIN = const(8)
ACT_MAX = const(9)
PER_UNIT = const(10)
PER_UNIT_STEP = const(6)
BIAS_HI = const(0)
BIAS_LO = const(1)
REDUCED = const(4)
TOTAL_SHIFT = const(5)
# --- end generated ---


def bind(p, arena):
    """(weight piece, last shorter weight piece): views made once."""
    s = p[SCRATCH]
    chunk = p[CHUNK]
    last = p[DEPTH] % chunk or chunk
    return arena[s:s + chunk], arena[s:s + last]


def eval(p, arena, model, views=None):
    w, wlast = views or bind(p, arena)
    depth = p[DEPTH]
    units = p[UNITS]
    chunk = p[CHUNK]
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    weights = p[WEIGHTS]
    for b in range(p[BATCHES]):
        x0 = p[INPUT] + 2 * b * depth
        y = p[OUTPUT] + 2 * b * units
        for c in range(units):
            q = PER_UNIT + PER_UNIT_STEP * c
            acc = 0
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
                xo = x0 + 2 * d
                for k in range(n):
                    acc += ws[k] * ((arena[xo + 1] << 8) | (arena[xo] & 255))
                    xo += 2
                d += n
            acc += p[q + BIAS_LO]
            if p[q + BIAS_HI]:  # a bias beyond int32 (a shift by 32 is never a small int)
                acc += p[q + BIAS_HI] << 32
            acc = mbqm64(acc, p[q + REDUCED], p[q + TOTAL_SHIFT])
            if acc < lo:
                acc = lo
            elif acc > hi:
                acc = hi
            o = y + 2 * c
            arena[o] = ((acc + 128) & 255) - 128
            arena[o + 1] = acc >> 8
