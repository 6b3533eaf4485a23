"""GATHER (int8): tflite::reference_ops::Gather with constant, range-checked indices.

Output row i of each OUTER block is input row INDICES[i], INNER bytes long.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
OUTER = const(0)
AXIS_SIZE = const(1)
INNER = const(2)
INPUT = const(3)
OUTPUT = const(4)
N_INDICES = const(5)
INDICES = const(6)
INDICES_STEP = const(1)
INDEX = const(0)
# --- end generated ---


def eval(p, arena, model):
    inner = p[INNER]
    n = p[N_INDICES]
    block = p[AXIS_SIZE] * inner
    y = p[OUTPUT]
    x0 = p[INPUT]
    for _o in range(p[OUTER]):
        for k in range(n):
            x = x0 + p[INDICES + INDICES_STEP * k + INDEX] * inner
            for i in range(x, x + inner):
                arena[y] = arena[i]
                y += 1
        x0 += block
