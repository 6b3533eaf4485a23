"""MEAN, int16: the int8 kernel's QuantizedMeanOrSum arithmetic over little-endian int16 values.

Zero point 0 makes BIAS 0, so the sum of COUNT values stays a small int up to
COUNT 2**15; the host refuses COUNT above 2**16, where TFLM's own int32 sum
can wrap, and in between the sum is an exact (allocating) long int. The
rescale is qmath.mbqm, the clamp int16's.
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
    step = 2 * inner
    span = count * step
    for o in range(p[OUTER]):
        for i in range(inner):
            acc = bias
            j = x + o * span + 2 * i
            for _ in range(count):
                acc += (arena[j + 1] << 8) | (arena[j] & 255)
                j += step
            v = mbqm(acc, m0, m1, m2, shift) + zp
            if v < -32768:
                v = -32768
            elif v > 32767:
                v = 32767
            arena[y] = ((v + 128) & 255) - 128
            arena[y + 1] = v >> 8
            y += 2
