"""LEAKY_RELU, int16: TFLM's QuantizeLeakyRelu<int16_t> (zero points 0).

Each value is rescaled by one of two multipliers: s_in / s_out when it is >= 0,
s_in * alpha / s_out when negative (qmath.mbqm on host-split limbs), then clamped to int16.
The host refused left shifts past 15, so every step stays on small ints.
"""

from ..qmath import mbqm

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
N = const(0)
INPUT = const(1)
OUTPUT = const(2)
IDENTITY_SHIFT = const(3)
ALPHA_SHIFT = const(4)
LIMBS = const(5)
# --- end generated ---


def eval(p, arena, model):
    x = p[INPUT]
    y = p[OUTPUT]
    si = p[IDENTITY_SHIFT]
    sa = p[ALPHA_SHIFT]
    i0 = p[LIMBS]
    i1 = p[LIMBS + 1]
    i2 = p[LIMBS + 2]
    a0 = p[LIMBS + 3]
    a1 = p[LIMBS + 4]
    a2 = p[LIMBS + 5]
    for _ in range(p[N]):
        v = (arena[x + 1] << 8) | (arena[x] & 255)
        x += 2
        if v >= 0:
            v = mbqm(v, i0, i1, i2, si)
        else:
            v = mbqm(v, a0, a1, a2, sa)
        if v < -32768:
            v = -32768
        elif v > 32767:
            v = 32767
        arena[y] = ((v + 128) & 255) - 128
        arena[y + 1] = v >> 8
        y += 2
