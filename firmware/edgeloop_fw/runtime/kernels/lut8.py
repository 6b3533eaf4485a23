"""RELU, RELU6, LOGISTIC, TANH, QUANTIZE, LEAKY_RELU, HARD_SWISH (int8): one table lookup per element.

The host computed TFLM's answer for all 256 input codes (see
edgeloop/convert/ops/lut8.py); the table is read from the model file into
this op's 256-byte scratch; the views are made once (`bind`), so an
inference allocates nothing.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
N = const(0)
INPUT = const(1)
OUTPUT = const(2)
TABLE = const(3)
SCRATCH = const(4)
# --- end generated ---


def bind(p, arena):
    """(table, input, output) views, made once at load."""
    s = p[SCRATCH]
    n = p[N]
    return arena[s:s + 256], arena[p[INPUT]:p[INPUT] + n], arena[p[OUTPUT]:p[OUTPUT] + n]


def eval(p, arena, model, views=None):
    table, x, y = views or bind(p, arena)
    model.read_const(p[TABLE], table)
    for i in range(p[N]):
        y[i] = table[x[i] + 128]
