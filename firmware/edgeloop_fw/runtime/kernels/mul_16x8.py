"""MUL, int16: TFLM's MulElementwise / BroadcastMul6DSlow on int16 values (zero points 0).

output = MultiplyByQuantizedMultiplier(x1 * x2), clamped. The product is at most 2**30 in
magnitude; only (-32768) * (-32768) = 2**30 leaves qmath.mbqm's small ints (its exact wide
path then allocates). A constant operand is read into this op's scratch first.
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
    sh = p[OUTPUT_SHIFT]
    m0 = p[LIMBS]
    m1 = p[LIMBS + 1]
    m2 = p[LIMBS + 2]
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
                    v = mbqm(((arena[a + 1] << 8) | (arena[a] & 255)) * ((arena[b + 1] << 8) | (arena[b] & 255)),
                             m0, m1, m2, sh)
                    if v < lo:
                        v = lo
                    elif v > hi:
                        v = hi
                    arena[y] = ((v + 128) & 255) - 128
                    arena[y + 1] = v >> 8
                    y += 2
                    a += sa3
                    b += sb3
