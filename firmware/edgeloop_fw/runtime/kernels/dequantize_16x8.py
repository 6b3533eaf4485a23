"""DEQUANTIZE (int16 -> float32): TFLM's float(double(scale) * (x - zero_point)), in integers.

A table (the int8 kernel's way) would take 256 KiB for int16 codes, and float
math on the board allocates a float object per value on most ports. But the
product of the float32 scale (a 24-bit mantissa) and an integer below 2**16 is
exact in double, so TFLM's value is that product rounded once to float32: here
the mantissa (two 12-bit halves, so every partial product stays a small int)
times |x - zero_point| is rounded to 24 bits, half to even, and its four bytes
are written; the exponent field is BIAS plus the bits rounded off.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
N = const(0)
INPUT = const(1)
OUTPUT = const(2)
ZERO_POINT = const(3)
MANT_HI = const(4)
MANT_LO = const(5)
BIAS = const(6)
# --- end generated ---


def eval(p, arena, model):
    x = p[INPUT]
    y = p[OUTPUT]
    zp = p[ZERO_POINT]
    mh = p[MANT_HI]
    ml = p[MANT_LO]
    bias = p[BIAS]
    for _ in range(p[N]):
        a = ((arena[x + 1] << 8) | (arena[x] & 255)) - zp
        x += 2
        sign = 0
        if a < 0:
            sign = 128
            a = -a
        if a == 0:
            arena[y] = 0
            arena[y + 1] = 0
            arena[y + 2] = 0
            arena[y + 3] = 0
            y += 4
            continue
        lo = ml * a
        hi = mh * a + (lo >> 12)  # the product is hi * 4096 + lo, hi of 12 to 28 bits
        lo &= 4095
        drop = 0
        while hi >> (12 + drop):
            drop += 1
        if drop == 0:
            m = (hi << 12) | lo
        else:
            if drop <= 12:
                m = (hi << (12 - drop)) | (lo >> drop)
                rest = lo & ((1 << drop) - 1)
            else:
                m = hi >> (drop - 12)
                rest = ((hi & ((1 << (drop - 12)) - 1)) << 12) | lo
            half = 1 << (drop - 1)
            if rest > half or (rest == half and m & 1):
                m += 1
                if m >> 24:
                    m >>= 1
                    drop += 1
        e = bias + drop
        arena[y] = ((m + 128) & 255) - 128
        arena[y + 1] = (((m >> 8) + 128) & 255) - 128
        arena[y + 2] = ((((m >> 16) & 127) | ((e & 1) << 7)) ^ 128) - 128
        arena[y + 3] = ((sign | (e >> 1)) ^ 128) - 128
        y += 4
