"""Bit tricks TFLM gets from compiler builtins, in plain integer Python.

MicroPython ints have no bit_length(), so the most significant bit is found
by halving the search range (six comparisons for 64 bits).
"""


def msb(x):
    """Bit length of x >= 0 (TFLM's MostSignificantBit for x > 0)."""
    n = 0
    if x >> 32:
        x >>= 32
        n = 32
    if x >> 16:
        x >>= 16
        n += 16
    if x >> 8:
        x >>= 8
        n += 8
    if x >> 4:
        x >>= 4
        n += 4
    if x >> 2:
        x >>= 2
        n += 2
    if x >> 1:
        x >>= 1
        n += 1
    return n + x


def sqrt_round(x):
    """round(sqrt(x)) for 0 <= x < 2**64, saturated as TFLM's Sqrt32/Sqrt64 do.

    TFLM computes floor(sqrt) bit by bit and adds one when the remainder
    exceeds the root (i.e. rounds to nearest), unless the root is already the
    largest value of its return type (0xFFFF for 32-bit inputs, 0xFFFFFFFF for
    64-bit). Newton's iteration from a power of two above the root gives the
    same floor in ~6 steps instead of 32.
    """
    if x == 0:
        return 0
    r = 1 << ((msb(x) + 1) >> 1)
    while True:
        y = (r + x // r) >> 1
        if y >= r:
            break
        r = y
    if x - r * r > r:
        if x >> 32:
            if r != 0xFFFFFFFF:
                r += 1
        elif r != 0xFFFF:
            r += 1
    return r
