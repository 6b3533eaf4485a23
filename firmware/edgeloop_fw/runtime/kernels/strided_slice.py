"""SLICE / STRIDED_SLICE (int8): tflite::reference_ops::StridedSlice as one strided copy.

The host resolved masks, negative indices and clamping into a first byte, a
count and a byte step per dimension (a step is negative when the slice runs
backwards); this walks the four dimensions and writes the output in order.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
INPUT = const(0)
START = const(1)
OUTPUT = const(2)
COUNTS = const(3)
STEPS = const(7)
# --- end generated ---


def eval(p, arena, model):
    y = p[OUTPUT]
    c1 = p[COUNTS + 1]
    c2 = p[COUNTS + 2]
    c3 = p[COUNTS + 3]
    s0 = p[STEPS]
    s1 = p[STEPS + 1]
    s2 = p[STEPS + 2]
    s3 = p[STEPS + 3]
    x0 = p[INPUT] + p[START]
    for _a in range(p[COUNTS]):
        x1 = x0
        for _b in range(c1):
            x2 = x1
            for _c in range(c2):
                x = x2
                for _d in range(c3):
                    arena[y] = arena[x]
                    y += 1
                    x += s3
                x2 += s2
            x1 += s1
        x0 += s0
