"""SPLIT / SPLIT_V / UNPACK (int8): tflite::reference_ops::Split, a strided byte copy.

For each of OUTER input rows, output k takes the next SIZE bytes; the bytes
are copied unchanged, as in TFLM.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
OUTER = const(0)
INPUT = const(1)
N_OUTPUTS = const(2)
OUTPUTS = const(3)
OUTPUTS_STEP = const(2)
OUTPUT = const(0)
SIZE = const(1)
# --- end generated ---


def eval(p, arena, model):
    n_outputs = p[N_OUTPUTS]
    x = p[INPUT]
    for o in range(p[OUTER]):
        for k in range(n_outputs):
            q = OUTPUTS + OUTPUTS_STEP * k
            size = p[q + SIZE]
            y = p[q + OUTPUT] + o * size
            for i in range(y, y + size):  # byte by byte: a slice would allocate
                arena[i] = arena[x]
                x += 1
