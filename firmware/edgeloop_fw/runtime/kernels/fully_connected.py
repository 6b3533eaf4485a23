"""FULLY_CONNECTED, int8: tflite::reference_integer_ops::FullyConnected.

The weights stay in the model file: each unit's row is read in CHUNK-byte
pieces into this op's scratch in the arena, so heap use does not grow with
the model. Param layout: see edgeloop/convert/ops/fully_connected.py.
"""

from ..qmath import mbqm

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

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


def eval(p, arena, model):
    depth = p[DEPTH]
    units = p[UNITS]
    chunk = p[CHUNK]
    scratch = p[SCRATCH]
    zp = p[OUTPUT_OFFSET]
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    read = model.read_const
    wbuf = arena[scratch:scratch + chunk]
    for b in range(p[BATCHES]):
        x0 = p[INPUT] + b * depth
        y0 = p[OUTPUT] + b * units
        for c in range(units):
            q = PER_UNIT + 3 * c
            acc = p[q]
            row = p[WEIGHTS] + c * depth
            d = 0
            while d < depth:
                n = depth - d
                if n > chunk:
                    n = chunk
                w = wbuf if n == chunk else wbuf[:n]
                read(row + d, w)
                x = arena[x0 + d:x0 + d + n]
                for k in range(n):
                    acc += w[k] * x[k]
                d += n
            acc = mbqm(acc, p[q + 1], p[q + 2]) + zp
            if acc < lo:
                acc = lo
            elif acc > hi:
                acc = hi
            arena[y0 + c] = acc
