"""ADD (int8): tflite::reference_integer_ops::AddFunc, element by element.

Each input gets its zero point removed, is shifted left by LEFT_SHIFT (20)
and rescaled to the common scale; the sum is rescaled to the output. All
three rescales are MultiplyByQuantizedMultiplierSmallerThanOneExp, i.e.
a rounding doubling high multiply then a rounding right shift.
"""

from ..qmath import rdbpot, srdhm

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

N = const(0)
BROADCAST = const(1)
INPUT1 = const(2)
INPUT2 = const(3)
OUTPUT = const(4)
INPUT1_OFFSET = const(5)
INPUT2_OFFSET = const(6)
OUTPUT_OFFSET = const(7)
LEFT_SHIFT = const(8)
INPUT1_MULTIPLIER = const(9)
INPUT1_SHIFT = const(10)
INPUT2_MULTIPLIER = const(11)
INPUT2_SHIFT = const(12)
OUTPUT_MULTIPLIER = const(13)
OUTPUT_SHIFT = const(14)
ACT_MIN = const(15)
ACT_MAX = const(16)
DIMS = const(17)
STRIDES1 = const(21)
STRIDES2 = const(25)


def eval(p, arena, model):
    o1 = p[INPUT1_OFFSET]
    o2 = p[INPUT2_OFFSET]
    zp = p[OUTPUT_OFFSET]
    ls = p[LEFT_SHIFT]
    m1 = p[INPUT1_MULTIPLIER]
    r1 = -p[INPUT1_SHIFT]
    m2 = p[INPUT2_MULTIPLIER]
    r2 = -p[INPUT2_SHIFT]
    mo = p[OUTPUT_MULTIPLIER]
    ro = -p[OUTPUT_SHIFT]
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    a = p[INPUT1]
    b = p[INPUT2]
    y = p[OUTPUT]
    if p[BROADCAST]:
        d1 = p[DIMS + 1]
        d2 = p[DIMS + 2]
        d3 = p[DIMS + 3]
        a0 = p[STRIDES1]
        a1 = p[STRIDES1 + 1]
        a2 = p[STRIDES1 + 2]
        a3 = p[STRIDES1 + 3]
        b0 = p[STRIDES2]
        b1 = p[STRIDES2 + 1]
        b2 = p[STRIDES2 + 2]
        b3 = p[STRIDES2 + 3]
        for i0 in range(p[DIMS]):
            for i1 in range(d1):
                for i2 in range(d2):
                    ia = a + i0 * a0 + i1 * a1 + i2 * a2
                    ib = b + i0 * b0 + i1 * b1 + i2 * b2
                    for i3 in range(d3):
                        s = rdbpot(srdhm((arena[ia] + o1) << ls, m1), r1) + \
                            rdbpot(srdhm((arena[ib] + o2) << ls, m2), r2)
                        v = rdbpot(srdhm(s, mo), ro) + zp
                        if v < lo:
                            v = lo
                        elif v > hi:
                            v = hi
                        arena[y] = v
                        y += 1
                        ia += a3
                        ib += b3
        return
    for i in range(p[N]):
        s = rdbpot(srdhm((arena[a + i] + o1) << ls, m1), r1) + \
            rdbpot(srdhm((arena[b + i] + o2) << ls, m2), r2)
        v = rdbpot(srdhm(s, mo), ro) + zp
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        arena[y + i] = v
