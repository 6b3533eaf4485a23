"""SignalWindow and SignalFftAutoScale (TFLM signal/src/window.cc, fft_auto_scale.cc)."""

from ._bits import msb


def apply_window(samples, offset, window, shift, out):
    """out[i] = saturate_int16((samples[offset + i] * window[i]) >> shift)."""
    for i in range(len(window)):
        v = (samples[offset + i] * window[i]) >> shift
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        out[i] = v


def fft_auto_scale(buf, n):
    """Scale buf[:n] up in place so its peak uses the int16 range; return the shift.

    Reproduces MaxAbs16's int16 accumulator: a -32768 sample makes the running
    maximum wrap to -32768, which as uint32 has 32 significant bits, so the
    shift is 0. An all-zero frame also gets 0 (MostSignificantBit32(0) is 32
    in TFLM's GCC build). The square-root stage later undoes this shift.
    """
    peak = 0
    for i in range(n):
        v = buf[i]
        if v > peak:
            peak = v
        elif -v > peak:
            peak = -v if v != -32768 else -32768
    if peak <= 0:
        return 0
    bits = 15 - msb(peak)
    if bits <= 0:
        return 0
    for i in range(n):
        buf[i] <<= bits
    return bits
