"""RELU, RELU6, LOGISTIC, TANH, QUANTIZE (int8): one table lookup per element.

The host computed TFLM's answer for all 256 input codes (see
edgeloop/convert/ops/lut8.py); the table is read from the model file into
this op's 256-byte scratch, so nothing is allocated per element.
"""

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

N = const(0)
INPUT = const(1)
OUTPUT = const(2)
TABLE = const(3)
SCRATCH = const(4)


def eval(p, arena, model):
    n = p[N]
    s = p[SCRATCH]
    table = arena[s:s + 256]
    model.read_const(p[TABLE], table)
    x = arena[p[INPUT]:p[INPUT] + n]
    y = arena[p[OUTPUT]:p[OUTPUT] + n]
    for i in range(n):
        y[i] = table[x[i] + 128]
