"""PRELU (int8): tflite::reference_ops::BroadcastPrelu4DSlow.

x - zp >= 0 keeps the input, rescaled (multiplier 1); below, the product
with alpha's zero-point-free code is rescaled (multiplier 2); then the
output zero point and int8 clamping. Both rescales are qmath.mbqm on host-
split limbs (products below 2**16, shifts at most 15). A constant alpha is
read into this op's scratch first, as in kernels/sub.py.
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
INPUT_OFFSET = const(8)
ALPHA_OFFSET = const(9)
OUTPUT_OFFSET = const(10)
OUTPUT_SHIFT_1 = const(12)
OUTPUT_SHIFT_2 = const(14)
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
    oi = p[INPUT_OFFSET]
    oa = p[ALPHA_OFFSET]
    zp = p[OUTPUT_OFFSET]
    s1 = p[OUTPUT_SHIFT_1]
    s2 = p[OUTPUT_SHIFT_2]
    a0 = p[LIMBS]
    a1 = p[LIMBS + 1]
    a2 = p[LIMBS + 2]
    b0 = p[LIMBS + 3]
    b1 = p[LIMBS + 4]
    b2 = p[LIMBS + 5]
    a = p[INPUT1]
    b = p[INPUT2]
    y = p[OUTPUT]
    d0 = p[DIMS]
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
    if not p[BROADCAST]:  # one flat run: the strides of a same-shape operand
        d0 = 1
        d1 = 1
        d2 = 1
        d3 = p[N]
        sa3 = 1
        sb3 = 1
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                ia = a + i0 * sa0 + i1 * sa1 + i2 * sa2
                ib = b + i0 * sb0 + i1 * sb1 + i2 * sb2
                for i3 in range(d3):
                    v = arena[ia] + oi
                    if v >= 0:
                        v = mbqm(v, a0, a1, a2, s1) + zp
                    else:
                        v = mbqm(v * (arena[ib] + oa), b0, b1, b2, s2) + zp
                    if v < -128:
                        v = -128
                    elif v > 127:
                        v = 127
                    arena[y] = v
                    y += 1
                    ia += sa3
                    ib += sb3
