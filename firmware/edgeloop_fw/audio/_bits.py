"""The bit length TFLM gets from a compiler builtin, in plain integer Python.

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
