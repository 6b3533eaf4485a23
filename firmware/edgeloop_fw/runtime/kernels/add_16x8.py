"""ADD, int16: TFLM's general quantized Add for int16 (left shift 15), element by element.

The int8 kernel's three rescales (qmath.mbqm with host-split limbs) over
little-endian int16 values; byte offsets advance by two per element.
"""

from ..qmath import mbqm

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
N = const(0)
BROADCAST = const(1)
INPUT1 = const(2)
INPUT2 = const(3)
OUTPUT = const(4)
INPUT1_OFFSET = const(5)
INPUT2_OFFSET = const(6)
OUTPUT_OFFSET = const(7)
LEFT_SHIFT = const(8)
INPUT1_SHIFT = const(10)
INPUT2_SHIFT = const(12)
OUTPUT_SHIFT = const(14)
ACT_MIN = const(15)
ACT_MAX = const(16)
DIMS = const(17)
STRIDES1 = const(21)
STRIDES2 = const(25)
LIMBS = const(29)
# --- end generated ---


def eval(p, arena, model):
    o1 = p[INPUT1_OFFSET]
    o2 = p[INPUT2_OFFSET]
    zp = p[OUTPUT_OFFSET]
    ls = p[LEFT_SHIFT]
    s1 = p[INPUT1_SHIFT]
    s2 = p[INPUT2_SHIFT]
    so = p[OUTPUT_SHIFT]
    a0 = p[LIMBS]
    a1 = p[LIMBS + 1]
    a2 = p[LIMBS + 2]
    b0 = p[LIMBS + 3]
    b1 = p[LIMBS + 4]
    b2 = p[LIMBS + 5]
    c0 = p[LIMBS + 6]
    c1 = p[LIMBS + 7]
    c2 = p[LIMBS + 8]
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    ia = p[INPUT1]
    ib = p[INPUT2]
    y = p[OUTPUT]
    broadcast = p[BROADCAST]
    d1 = p[DIMS + 1]
    d2 = p[DIMS + 2]
    d3 = p[DIMS + 3]
    if not broadcast:  # one flat run: strides of 1 element
        d1 = 1
        d2 = 1
        d3 = p[N]
    sa0 = 2 * p[STRIDES1]
    sa1 = 2 * p[STRIDES1 + 1]
    sa2 = 2 * p[STRIDES1 + 2]
    sa3 = 2 * p[STRIDES1 + 3] if broadcast else 2
    sb0 = 2 * p[STRIDES2]
    sb1 = 2 * p[STRIDES2 + 1]
    sb2 = 2 * p[STRIDES2 + 2]
    sb3 = 2 * p[STRIDES2 + 3] if broadcast else 2
    for i0 in range(p[DIMS] if broadcast else 1):
        for i1 in range(d1):
            for i2 in range(d2):
                a = ia + i0 * sa0 + i1 * sa1 + i2 * sa2
                b = ib + i0 * sb0 + i1 * sb1 + i2 * sb2
                for i3 in range(d3):
                    s = mbqm((((arena[a + 1] << 8) | (arena[a] & 255)) + o1) << ls, a0, a1, a2, s1) + \
                        mbqm((((arena[b + 1] << 8) | (arena[b] & 255)) + o2) << ls, b0, b1, b2, s2)
                    v = mbqm(s, c0, c1, c2, so) + zp
                    if v < lo:
                        v = lo
                    elif v > hi:
                        v = hi
                    arena[y] = ((v + 128) & 255) - 128
                    arena[y + 1] = v >> 8
                    y += 2
                    a += sa3
                    b += sb3
