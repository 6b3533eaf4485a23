"""SUB (int8): tflite::reference_ops::SubElementwise / BroadcastQuantSubSlow.

ADD's arithmetic with the second scaled input subtracted (kernels/add.py):
each input loses its zero point, is shifted left by LEFT_SHIFT (20) and
rescaled to the common scale; the difference is rescaled to the output. The
rescales are qmath.mbqm on the host-split limbs, so nothing is allocated per
element. A constant operand is read from the file into this op's scratch
first (CONST_SIZE > 0; the host pointed INPUT1 or INPUT2 there).
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
INPUT1_OFFSET = const(8)
INPUT2_OFFSET = const(9)
OUTPUT_OFFSET = const(10)
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
    a = p[INPUT1]
    b = p[INPUT2]
    y = p[OUTPUT]
    if p[BROADCAST]:
        d1 = p[DIMS + 1]
        d2 = p[DIMS + 2]
        d3 = p[DIMS + 3]
        sa0 = p[STRIDES1]
        sa1 = p[STRIDES1 + 1]
        sa2 = p[STRIDES1 + 2]
        sa3 = p[STRIDES1 + 3]
        sb0 = p[STRIDES2]
        sb1 = p[STRIDES2 + 1]
        sb2 = p[STRIDES2 + 2]
        sb3 = p[STRIDES2 + 3]
        for i0 in range(p[DIMS]):
            for i1 in range(d1):
                for i2 in range(d2):
                    ia = a + i0 * sa0 + i1 * sa1 + i2 * sa2
                    ib = b + i0 * sb0 + i1 * sb1 + i2 * sb2
                    for i3 in range(d3):
                        s = mbqm((arena[ia] + o1) << ls, a0, a1, a2, s1) - \
                            mbqm((arena[ib] + o2) << ls, b0, b1, b2, s2)
                        v = mbqm(s, c0, c1, c2, so) + zp
                        if v < lo:
                            v = lo
                        elif v > hi:
                            v = hi
                        arena[y] = v
                        y += 1
                        ia += sa3
                        ib += sb3
        return
    for i in range(p[N]):
        s = mbqm((arena[a + i] + o1) << ls, a0, a1, a2, s1) - \
            mbqm((arena[b + i] + o2) << ls, b0, b1, b2, s2)
        v = mbqm(s, c0, c1, c2, so) + zp
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        arena[y + i] = v
