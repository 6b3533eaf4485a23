"""SignalWindow and SignalFftAutoScale (TFLM signal/src/window.cc, fft_auto_scale.cc).

Every stage of the front end is a generator made once per front end: its
locals live in the generator object, so running a frame resumes it instead of
calling a function. MicroPython keeps only 11 words of a call's state on the C
stack; on a port without a separate Python stack (rp2, esp32, stm32) a call
of a function with this many locals allocates its frame on the heap and frees
it on return, every time.
"""

from ._bits import msb


def window_pass(src, window, shift, out):
    """Window src[0][offset:] into out and auto-scale it; `send(offset)` returns the shift.

    Prime with next() first. out[i] = saturate_int16((x[offset + i] * w[i]) >> shift),
    then the peak is scaled up to use the int16 range as TFLM's FftAutoScale does.

    MaxAbs16 keeps its running maximum in an int16: a -32768 sample makes it
    wrap to -32768, which as uint32 has 32 significant bits, so the shift is
    0 - unless later samples overwrite the peak, and then the -32768 itself
    wraps when scaled, as C's int16 store does. An all-zero frame gets 0
    (MostSignificantBit32(0) is 32 in TFLM's GCC build). The square-root stage
    later undoes this shift.
    """
    n = len(window)
    bits = 0
    while True:
        offset = yield bits
        samples = src[0]
        peak = 0
        wrapped = False
        for i in range(n):
            v = (samples[offset + i] * window[i]) >> shift
            if v > 32767:
                v = 32767
            elif v < -32768:
                v = -32768
            out[i] = v
            if v > peak:
                peak = v
            elif -v > peak:
                if v == -32768:
                    peak = -32768
                    wrapped = True
                else:
                    peak = -v
        bits = 0
        if peak > 0:
            bits = 15 - msb(peak)
        if bits <= 0:
            bits = 0
        elif wrapped:  # a -32768 is in the frame and C's int16 store wraps it
            for i in range(n):
                out[i] = (((out[i] << bits) + 32768) & 0xFFFF) - 32768
        else:
            for i in range(n):
                out[i] <<= bits
