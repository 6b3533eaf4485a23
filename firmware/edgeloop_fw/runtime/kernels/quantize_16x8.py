"""QUANTIZE with an int16 end (int16 -> int16, int8 -> int16, int16 -> int8): TFLM's
reference_ops::Requantize, element by element.

A table (the int8 kernel's way) would take 64 KiB for an int16 input, so each
value is rescaled: (x - INPUT_ZP) through qmath.mbqm, plus OUTPUT_ZP, clamped to
the output type. IN_BYTES and OUT_BYTES (1 or 2) say which end is int16.
"""

from ..qmath import mbqm

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
N = const(0)
INPUT = const(1)
OUTPUT = const(2)
IN_BYTES = const(3)
OUT_BYTES = const(4)
INPUT_ZP = const(5)
SHIFT = const(6)
OUTPUT_ZP = const(7)
LIMBS = const(8)
# --- end generated ---


def eval(p, arena, model):
    x = p[INPUT]
    y = p[OUTPUT]
    wi = p[IN_BYTES]
    wo = p[OUT_BYTES]
    zin = p[INPUT_ZP]
    zout = p[OUTPUT_ZP]
    shift = p[SHIFT]
    m0 = p[LIMBS]
    m1 = p[LIMBS + 1]
    m2 = p[LIMBS + 2]
    hi = 32767 if wo == 2 else 127
    lo = -hi - 1
    for _ in range(p[N]):
        v = (arena[x + 1] << 8) | (arena[x] & 255) if wi == 2 else arena[x]
        x += wi
        v = mbqm(v - zin, m0, m1, m2, shift) + zout
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        if wo == 2:
            arena[y] = ((v + 128) & 255) - 128
            arena[y + 1] = v >> 8
        else:
            arena[y] = v
        y += wo
