"""SignalFilterBankLog and the int32 tail that maps log energies to int8.

TFLM: signal/src/filter_bank_log.cc and log.cc. Log32 takes log2 as
integer part (the most significant bit) plus a Q16 fraction corrected by a
128-segment LUT with linear interpolation, then converts to ln with the Q16
constant 45426 (= 65536 * ln 2) and applies the output scale.
"""

from ._bits import msb

_LOG_COEFF = 45426  # round(65536 * ln(2))


def log32(x, out_scale, lut):
    """TFLM's Log32(x, out_scale) for x > 1 (uint32)."""
    integer = msb(x) - 1
    frac = x - (1 << integer)
    if integer < 16:
        frac <<= 16 - integer
    else:
        frac >>= integer - 16
    seg = frac >> 9  # 16 - log2(128 segments)
    c0 = lut[seg]
    c1 = lut[seg + 1]
    rel = ((c1 - c0) * (frac - (seg << 9))) >> 16
    log2 = (integer << 16) + frac + c0 + rel
    loge = (_LOG_COEFF * log2 + 32768) >> 16
    return ((out_scale * loge + 32768) & 0xFFFFFFFF) >> 16


def filterbank_log(inp, n, correction_bits, out_scale, lut, out):
    """out[i] = min(log32(inp[i] << correction_bits), 32767), or 0 for inputs <= 1."""
    for i in range(n):
        scaled = (inp[i] << correction_bits) & 0xFFFFFFFF
        if scaled > 1:
            v = log32(scaled, out_scale, lut)
            out[i] = v if v < 32767 else 32767
        else:
            out[i] = 0


def to_int8(p, inp, n, out):
    """The CAST/MUL/ADD/DIV/ADD/MINIMUM/MAXIMUM/CAST tail, in int32.

    DIV truncates toward zero in TFLM; the operands are non-negative here
    (log output >= 0, positive multiplier and bias), where floor equals trunc.
    """
    mul = p.OUT_MUL
    add = p.OUT_ADD
    div = p.OUT_DIV
    offset = p.OUT_OFFSET
    lo = p.OUT_MIN
    hi = p.OUT_MAX
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
