"""PRELU, int16 input and output, int8 alpha: TFLM's BroadcastPrelu4DSlow<int16_t, int8_t>.

kernels/prelu.py's arithmetic: x >= 0 rescaled by multiplier 1, else x * (alpha - zp)
by multiplier 2 (qmath.mbqm, products below 2**23, small ints), clamped to int16. The
input and output are little-endian int16 (byte steps twice the element strides), alpha
int8; a constant alpha is read into this op's scratch first.
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
ALPHA_OFFSET = const(9)
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
    oa = p[ALPHA_OFFSET]
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
    sa0 = 2 * p[STRIDES1]
    sa1 = 2 * p[STRIDES1 + 1]
    sa2 = 2 * p[STRIDES1 + 2]
    sa3 = 2 * p[STRIDES1 + 3]
    sb0 = p[STRIDES2]
    sb1 = p[STRIDES2 + 1]
    sb2 = p[STRIDES2 + 2]
    sb3 = p[STRIDES2 + 3]
    if not p[BROADCAST]:  # one flat run: the strides of a same-shape operand
        d0 = 1
        d1 = 1
        d2 = 1
        d3 = p[N]
        sa3 = 2
        sb3 = 1
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                ia = a + i0 * sa0 + i1 * sa1 + i2 * sa2
                ib = b + i0 * sb0 + i1 * sb1 + i2 * sb2
                for i3 in range(d3):
                    v = (arena[ia + 1] << 8) | (arena[ia] & 255)
                    if v >= 0:
                        v = mbqm(v, a0, a1, a2, s1)
                    else:
                        v = mbqm(v * (arena[ib] + oa), b0, b1, b2, s2)
                    if v < -32768:
                        v = -32768
                    elif v > 32767:
                        v = 32767
                    arena[y] = ((v + 128) & 255) - 128
                    arena[y + 1] = v >> 8
                    y += 2
                    ia += sa3
                    ib += sb3
