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
    shift is 0 - unless later samples overwrite the peak, and then the -32768
    itself wraps when scaled, as C's int16 store does. An all-zero frame gets 0 (MostSignificantBit32(0) is 32
    in TFLM's GCC build). The square-root stage later undoes this shift.
    """
    peak = 0
    wrapped = False
    for i in range(n):
        v = buf[i]
        if v > peak:
            peak = v
        elif -v > peak:
            if v == -32768:
                peak = -32768
                wrapped = True
            else:
                peak = -v
    if peak <= 0:
        return 0
    bits = 15 - msb(peak)
    if bits <= 0:
        return 0
    if wrapped:  # a -32768 is in the frame and C's int16 store wraps it
        for i in range(n):
            buf[i] = (((buf[i] << bits) + 32768) & 0xFFFF) - 32768
    else:
        for i in range(n):
            buf[i] <<= bits
    return bits
