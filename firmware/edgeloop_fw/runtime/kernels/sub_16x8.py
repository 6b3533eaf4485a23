"""SUB, int16: TFLM's SubElementwise / BroadcastQuantSubSlow on int16 values.

kernels/sub.py's arithmetic (each input shifted left by LEFT_SHIFT, 15 here, and rescaled
to the common scale; the difference rescaled to the output, all by qmath.mbqm) over
little-endian int16 values, zero points 0. A constant operand (CONST_SIZE bytes) is read
from the file into this op's scratch first.
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
CONST = const(5)
CONST_SIZE = const(6)
CONST_TO = const(7)
LEFT_SHIFT = const(11)
INPUT1_SHIFT = const(13)
INPUT2_SHIFT = const(15)
OUTPUT_SHIFT = const(17)
ACT_MIN = const(18)
ACT_MAX = const(19)
DIMS = const(20)
STRIDES1 = const(24)
STRIDES2 = const(28)
LIMBS = const(32)
# --- end generated ---


def bind(p, arena):
    """The constant operand's arena copy (empty when both inputs are activations)."""
    t = p[CONST_TO]
    return arena[t:t + p[CONST_SIZE]]


def eval(p, arena, model, views=None):
    if p[CONST_SIZE]:
        model.read_const(p[CONST], bind(p, arena) if views is None else views)
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
                    s = mbqm(((arena[a + 1] << 8) | (arena[a] & 255)) << ls, a0, a1, a2, s1) - \
                        mbqm(((arena[b + 1] << 8) | (arena[b] & 255)) << ls, b0, b1, b2, s2)
                    v = mbqm(s, c0, c1, c2, so)
                    if v < lo:
                        v = lo
                    elif v > hi:
                        v = hi
                    arena[y] = ((v + 128) & 255) - 128
                    arena[y + 1] = v >> 8
                    y += 2
                    a += sa3
                    b += sb3
