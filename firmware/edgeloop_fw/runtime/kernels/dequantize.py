"""DEQUANTIZE (int8 -> float32): four bytes per element copied from a 256-entry table.

The host computed TFLM's float32 for every input code
(edgeloop/convert/ops/dequantize.py); the table is read from the model file
into this op's 1024-byte scratch, and each element's four bytes are copied
from entry x + 128. No float arithmetic runs here, so the bits are TFLM's on
ports without a float unit too, and nothing is allocated.
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
    """The table's arena view, made once at load."""
    s = p[SCRATCH]
    return arena[s:s + 1024]


def eval(p, arena, model, views=None):
    table = bind(p, arena) if views is None else views
    model.read_const(p[TABLE], table)
    x = p[INPUT]
    y = p[OUTPUT]
    for i in range(p[N]):
        k = (arena[x + i] + 128) << 2
        arena[y] = table[k]
        arena[y + 1] = table[k + 1]
        arena[y + 2] = table[k + 2]
        arena[y + 3] = table[k + 3]
        y += 4
