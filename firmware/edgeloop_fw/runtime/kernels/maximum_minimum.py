"""MAXIMUM / MINIMUM (int8, int16): tflite::reference_ops::MaximumMinimumBroadcastSlow.

The larger (MODE 0) or smaller (MODE 1) raw code of the two inputs, with
broadcasting; no arithmetic, so TFLM's bytes whatever the scales. A constant
operand is read into this op's scratch first, as in kernels/sub.py. Int16
values (WIDTH 2, TFLM's 16x8 mode) always take the strided walk, in `_wide`.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(2)
N = const(0)
BROADCAST = const(1)
INPUT1 = const(2)
INPUT2 = const(3)
OUTPUT = const(4)
CONST = const(5)
CONST_SIZE = const(6)
CONST_TO = const(7)
MODE = const(8)
DIMS = const(9)
STRIDES1 = const(13)
STRIDES2 = const(17)
WIDTH = const(21)
# --- end generated ---


def bind(p, arena):
    """The constant operand's arena copy (empty when both inputs are activations)."""
    t = p[CONST_TO]
    return arena[t:t + p[CONST_SIZE]]


def eval(p, arena, model, views=None):
    if p[CONST_SIZE]:
        model.read_const(p[CONST], bind(p, arena) if views is None else views)
    mn = p[MODE]
    a = p[INPUT1]
    b = p[INPUT2]
    y = p[OUTPUT]
    if p[WIDTH] == 2:
        _wide(p, arena, mn, a, b, y)
        return
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
                        u = arena[ia]
                        v = arena[ib]
                        if mn:
                            if v < u:
                                u = v
                        elif v > u:
                            u = v
                        arena[y] = u
                        y += 1
                        ia += sa3
                        ib += sb3
        return
    for i in range(p[N]):
        u = arena[a + i]
        v = arena[b + i]
        if mn:
            if v < u:
                u = v
        elif v > u:
            u = v
        arena[y + i] = u


def _wide(p, arena, mn, a, b, y):
    """Int16 values: the strided walk two bytes a step; the winner's two bytes are copied."""
    d1 = p[DIMS + 1]
    d2 = p[DIMS + 2]
    d3 = p[DIMS + 3]
    sa0 = 2 * p[STRIDES1]
    sa1 = 2 * p[STRIDES1 + 1]
    sa2 = 2 * p[STRIDES1 + 2]
    sa3 = 2 * p[STRIDES1 + 3]
    sb0 = 2 * p[STRIDES2]
    sb1 = 2 * p[STRIDES2 + 1]
    sb2 = 2 * p[STRIDES2 + 2]
    sb3 = 2 * p[STRIDES2 + 3]
    for i0 in range(p[DIMS]):
        for i1 in range(d1):
            for i2 in range(d2):
                ia = a + i0 * sa0 + i1 * sa1 + i2 * sa2
                ib = b + i0 * sb0 + i1 * sb1 + i2 * sb2
                for i3 in range(d3):
                    u = (arena[ia + 1] << 8) | (arena[ia] & 255)
                    v = (arena[ib + 1] << 8) | (arena[ib] & 255)
                    x = ia
                    if mn:
                        if v < u:
                            x = ib
                    elif v > u:
                        x = ib
                    arena[y] = arena[x]
                    arena[y + 1] = arena[x + 1]
                    y += 2
                    ia += sa3
                    ib += sb3
