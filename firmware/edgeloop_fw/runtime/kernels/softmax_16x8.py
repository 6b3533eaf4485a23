"""SOFTMAX, int16 -> int16: TFLM's reference_ops::SoftmaxInt16, exactly.

Per row: exp(x - max) by linear interpolation in TFLM's 513-entry exp LUT (the input
difference rescaled by qmath.mbqm to [-65535, 0] ~ [-10, 0], recentred to int16), kept in
the output bytes as TFLM keeps them; the sum's reciprocal by the 1/(1+x) LUT after
normalizing the sum to 17 bits; each exp times the reciprocal, rounded. The LUTs are
computed on the host (edgeloop/convert/ops/softmax_16x8.py) and read into scratch.
For rows of up to 2**15 values every step is a small int on a 32-bit port except the
last product plus its rounding term, which can pass 2**30 by up to 2**28 (then an
exact long int).
"""

from ..qmath import mbqm

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
OUTER = const(0)
DEPTH = const(1)
INPUT = const(2)
OUTPUT = const(3)
LUTS = const(4)
SCRATCH = const(5)
SHIFT = const(6)
LIMBS = const(7)
# --- end generated ---

_RECIP = const(1026)  # byte offset of the 1/(1+x) LUT after the exp LUT


def bind(p, arena):
    """The scratch view the LUTs are read into, made once at load."""
    s = p[SCRATCH]
    return arena[s:s + 2052]


def _lookup(t, at, v):
    """TFLM's generic_int16_table_lookup of v in the LUT at byte `at` of t."""
    j = at + 2 * (256 + (v >> 7))
    base = (t[j + 1] << 8) | (t[j] & 255)
    r = base + ((((t[j + 3] << 8) | (t[j + 2] & 255)) - base) * (v & 127) + 64 >> 7)
    return ((r + 32768) & 65535) - 32768


def eval(p, arena, model, t=None):
    if t is None:
        t = bind(p, arena)
    model.read_const(p[LUTS], t)
    depth = p[DEPTH]
    shift = p[SHIFT]
    m0 = p[LIMBS]
    m1 = p[LIMBS + 1]
    m2 = p[LIMBS + 2]
    for i in range(p[OUTER]):
        x = p[INPUT] + 2 * i * depth
        y = p[OUTPUT] + 2 * i * depth
        top = -32768
        for c in range(x, x + 2 * depth, 2):
            v = (arena[c + 1] << 8) | (arena[c] & 255)
            if v > top:
                top = v
        total = 0
        for c in range(depth):
            v = mbqm(((arena[x + 2 * c + 1] << 8) | (arena[x + 2 * c] & 255)) - top, m0, m1, m2, shift) + 32767
            if v < -32768:
                v = -32768
            e = _lookup(t, 0, v)
            total += e
            arena[y + 2 * c] = ((e + 128) & 255) - 128
            arena[y + 2 * c + 1] = e >> 8
        bits = 0  # 32 - CountLeadingZeros(total): total >= 1 (the max's exp)
        while total >> bits:
            bits += 1
        if bits < 18:  # ((total << (31 - bits)) + 2**13) >> 14 without passing 2**30
            s = (total << (17 - bits)) - 98304
        else:
            s = ((total + (1 << (bits - 18))) >> (bits - 17)) - 98304
        if s > 32767:
            s = 32767
        recip = _lookup(t, _RECIP, s)
        rs = bits - 1
        half = 1 << (rs - 1) if rs else 0
        for c in range(y, y + 2 * depth, 2):
            v = (((arena[c + 1] << 8) | (arena[c] & 255)) * recip + half) >> rs
            if v < 0:
                v = 0
            elif v > 32767:
                v = 32767
            arena[c] = ((v + 128) & 255) - 128
            arena[c + 1] = v >> 8
