"""SignalFilterBankLog and the int32 tail that maps log energies to int8.

TFLM: signal/src/filter_bank_log.cc and log.cc. Log32 takes log2 as
integer part (the most significant bit) plus a Q16 fraction corrected by a
128-segment LUT with linear interpolation, then converts to ln with the Q16
constant 45426 (= 65536 * ln 2) and applies the output scale. The product
with 45426 (up to 2**37 in TFLM's uint64) is split at 2**14 so it stays a
small int on a 32-bit MicroPython.
"""

from ._bits import msb

_LOG_COEFF = 45426  # round(65536 * ln(2))


def log_pass(inp, n, correction_bits, out_scale, lut, out):
    """Generator: each next() sets out[i] = min(Log32(inp[i] << bits), 32767), or 0 if that is <= 1.

    Prime with next().
    """
    while True:
        yield
        for i in range(n):
            x = inp[i] << correction_bits
            if x >> 32:
                x &= 0xFFFFFFFF
            if x <= 1:
                out[i] = 0
                continue
            integer = msb(x) - 1
            frac = x - (1 << integer)
            if integer < 16:
                frac <<= 16 - integer
            else:
                frac >>= integer - 16
            seg = frac >> 9  # 16 - log2(128 segments)
            c0 = lut[seg]
            log2 = (integer << 16) + frac + c0 + (((lut[seg + 1] - c0) * (frac - (seg << 9))) >> 16)
            # (45426 * log2 + 2**15) >> 16 with log2 = hi * 2**14 + lo
            loge = (_LOG_COEFF * (log2 >> 14) + ((_LOG_COEFF * (log2 & 0x3FFF) + 32768) >> 14)) >> 2
            v = out_scale * loge + 32768
            if v >> 32:
                v &= 0xFFFFFFFF
            v >>= 16
            out[i] = v if v < 32767 else 32767


def int8_pass(p, inp, n, out):
    """Generator: each next() runs the CAST/MUL/ADD/DIV/ADD/MINIMUM/MAXIMUM/CAST tail, in int32.

    DIV truncates toward zero in TFLM; Python's // floors, so negative
    quotients are negated around it. Prime with next().
    """
    mul = p.OUT_MUL
    add = p.OUT_ADD
    div = p.OUT_DIV
    offset = p.OUT_OFFSET
    lo = p.OUT_MIN
    hi = p.OUT_MAX
    while True:
        yield
        for i in range(n):
            v = inp[i] * mul + add
            if v < 0:
                v = -((-v) // div)
            else:
                v //= div
            v += offset
            if v > hi:
                v = hi
            if v < lo:
                v = lo
            out[i] = v
