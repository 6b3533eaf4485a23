"""The bit length TFLM gets from a compiler builtin, in plain integer Python.

MicroPython ints have no bit_length(), so the most significant bit is found
by halving the search range (six comparisons for 64 bits).
"""


def msb(x):
    """Bit length of x >= 0 (TFLM's MostSignificantBit for x > 0)."""
    n = 0
    for step in (32, 16, 8, 4, 2, 1):
        if x >> step:
            x >>= step
            n += step
    return n + x
