"""CONCATENATION (int8): tflite::reference_ops::Concatenation, a strided byte copy.

Inputs share the output's quantization (checked on the host, as TFLM does),
so no value changes: for each of OUTER rows, each input contributes SIZE
consecutive bytes.
"""

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

OUTER = const(0)
OUTPUT = const(1)
N_INPUTS = const(2)
FIRST = const(3)


def eval(p, arena, model):
    n_inputs = p[N_INPUTS]
    y = p[OUTPUT]
    for o in range(p[OUTER]):
        for k in range(n_inputs):
            size = p[FIRST + 2 * k + 1]
            x = p[FIRST + 2 * k] + o * size
            for i in range(x, x + size):  # byte by byte: a slice would allocate
                arena[y] = arena[i]
                y += 1
