"""RELU and RELU6, int16: TFLM's ReluQuantized<int16_t> (rescale by qmath.mbqm, then clamp to
[LO, HI]) and Relu6Quantized<int16_t> (clamp the input codes to [zero point, quantized 6]
with no rescale, as TFLM does even when the output's scale differs)."""

from ..qmath import mbqm

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
N = const(0)
INPUT = const(1)
OUTPUT = const(2)
RESCALE = const(3)
INPUT_ZP = const(4)
SHIFT = const(5)
OUTPUT_ZP = const(6)
LO = const(7)
HI = const(8)
LIMBS = const(9)
# --- end generated ---


def eval(p, arena, model):
    x = p[INPUT]
    y = p[OUTPUT]
    rescale = p[RESCALE]
    zin = p[INPUT_ZP]
    zout = p[OUTPUT_ZP]
    shift = p[SHIFT]
    lo = p[LO]
    hi = p[HI]
    m0 = p[LIMBS]
    m1 = p[LIMBS + 1]
    m2 = p[LIMBS + 2]
    for _ in range(p[N]):
        v = (arena[x + 1] << 8) | (arena[x] & 255)
        x += 2
        if rescale:
            v = zout + mbqm(v - zin, m0, m1, m2, shift)
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        arena[y] = ((v + 128) & 255) - 128
        arena[y + 1] = v >> 8
        y += 2
