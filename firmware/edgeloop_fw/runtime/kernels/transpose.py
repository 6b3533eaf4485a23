"""TRANSPOSE (int8): tflite::reference_ops::Transpose, a byte gather.

The host turned the permutation into four output extents and, for each,
the step it takes in the input (leading extents 1 for lower ranks), so the
output is written in order and no index arithmetic beyond adds happens here.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
INPUT = const(0)
OUTPUT = const(1)
DIMS = const(2)
STRIDES = const(6)
# --- end generated ---


def eval(p, arena, model):
    y = p[OUTPUT]
    n1 = p[DIMS + 1]
    n2 = p[DIMS + 2]
    n3 = p[DIMS + 3]
    s0 = p[STRIDES]
    s1 = p[STRIDES + 1]
    s2 = p[STRIDES + 2]
    s3 = p[STRIDES + 3]
    x0 = p[INPUT]
    for _ in range(p[DIMS]):
        x1 = x0
        for _ in range(n1):
            x2 = x1
            for _ in range(n2):
                x3 = x2
                for _ in range(n3):
                    arena[y] = arena[x3]
                    y += 1
                    x3 += s3
                x2 += s2
            x1 += s1
        x0 += s0
