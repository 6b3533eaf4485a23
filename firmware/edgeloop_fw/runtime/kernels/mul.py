"""MUL (int8): tflite::reference_integer_ops::MulElementwise / BroadcastMul6DSlow.

output = zp_out + MultiplyByQuantizedMultiplier((x1 - zp1) * (x2 - zp2)),
clamped to the fused activation's range. The product is below 2**16 and the
host refused shifts past 15, so qmath.mbqm stays on small ints. A constant
operand is read into this op's scratch first, as in kernels/sub.py.
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
OUTPUT_SHIFT = const(12)
ACT_MIN = const(13)
ACT_MAX = const(14)
DIMS = const(15)
STRIDES1 = const(19)
STRIDES2 = const(23)
LIMBS = const(27)
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
    sh = p[OUTPUT_SHIFT]
    m0 = p[LIMBS]
    m1 = p[LIMBS + 1]
    m2 = p[LIMBS + 2]
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
                        v = mbqm((arena[ia] + o1) * (arena[ib] + o2), m0, m1, m2, sh) + zp
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
        v = mbqm((arena[a + i] + o1) * (arena[b + i] + o2), m0, m1, m2, sh) + zp
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        arena[y + i] = v
