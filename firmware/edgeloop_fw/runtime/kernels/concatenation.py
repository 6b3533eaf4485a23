"""CONCATENATION (int8): tflite::reference_ops::Concatenation, a strided byte copy.

Inputs share the output's quantization (checked on the host, as TFLM does),
so no value changes: for each of OUTER rows, each input contributes SIZE
consecutive bytes.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
OUTER = const(0)
OUTPUT = const(1)
N_INPUTS = const(2)
INPUTS = const(3)
INPUTS_STEP = const(2)
INPUT = const(0)
SIZE = const(1)
# --- end generated ---


def eval(p, arena, model):
    n_inputs = p[N_INPUTS]
    y = p[OUTPUT]
    for o in range(p[OUTER]):
        for k in range(n_inputs):
            q = INPUTS + INPUTS_STEP * k
            size = p[q + SIZE]
            x = p[q + INPUT] + o * size
            for i in range(x, x + size):  # byte by byte: a slice would allocate
                arena[y] = arena[i]
                y += 1
