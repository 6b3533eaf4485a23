"""MEAN (int8): tflite::reference_ops::QuantizedMeanOrSum (mean) over adjacent axes.

The input is seen as [OUTER, COUNT, INNER]; each output is the int32 sum over
COUNT, minus zero_point * COUNT, rescaled (the 1/COUNT is folded into the
multiplier on the host) and clamped to int8.
"""

from ..qmath import mbqm

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
OUTER = const(0)
COUNT = const(1)
INNER = const(2)
INPUT = const(3)
OUTPUT = const(4)
BIAS = const(5)
SHIFT = const(7)
OUTPUT_ZP = const(8)
LIMBS = const(9)
# --- end generated ---


def eval(p, arena, model):
    count = p[COUNT]
    inner = p[INNER]
    bias = p[BIAS]
    shift = p[SHIFT]
    zp = p[OUTPUT_ZP]
    x = p[INPUT]
    y = p[OUTPUT]
    m0 = p[LIMBS]
    m1 = p[LIMBS + 1]
    m2 = p[LIMBS + 2]
    span = count * inner
    for o in range(p[OUTER]):
        for i in range(inner):
            acc = bias
            j = x + o * span + i
            for _ in range(count):
                acc += arena[j]
                j += inner
            v = mbqm(acc, m0, m1, m2, shift) + zp
            if v < -128:
                v = -128
            elif v > 127:
                v = 127
            arena[y] = v
            y += 1
