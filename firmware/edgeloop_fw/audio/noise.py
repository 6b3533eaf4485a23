"""SignalFilterBankSpectralSubtraction and SignalPCAN (per-channel noise handling).

TFLM: signal/src/filter_bank_spectral_subtraction.cc, pcan_argc_fixed.cc.
Spectral subtraction keeps a running noise estimate per channel (the only
state of the whole front end, reset per clip) and subtracts it, leaving at
least `min_signal_remaining` of the signal. PCAN then divides each channel by
a power of its noise estimate through a piecewise-quadratic LUT and
compresses the result.

TFLM multiplies uint32 by up to 14-bit coefficients in uint64. Here each
uint32 factor is split at 2**15 so every product stays a small int on a
32-bit MicroPython (no heap per frame); C's uint32 truncations are applied
only when a value actually reaches 2**32, because the mask 0xFFFFFFFF is
itself a boxed int there.
"""

from ._bits import msb

_PCAN_SNR_BITS = 12  # kPcanSnrBits in TFLM
_PCAN_OUTPUT_BITS = 6  # kPcanOutputBits


def spectral_subtraction_pass(p, inp, n, noise, out):
    """Generator: each next() updates `noise` in place from `inp` and writes the denoised channels.

    `p` holds the SS_* scalars of the parameter module. The estimate is a
    weighted mean of the scaled-up signal and the old estimate (the two
    coefficients sum to 2**14), so it never exceeds the larger of them.
    Prime with next().
    """
    sbits = p.SS_SMOOTHING_BITS
    ssbits = p.SS_SPECTRAL_SUBTRACTION_BITS
    if ssbits > 15:
        raise ValueError("spectral_subtraction_bits %d > 15 is not supported" % ssbits)
    up_shift = 15 - ssbits  # (hi * 2**15 + lo) >> ssbits == (hi << up_shift) + (lo >> ssbits)
    clamp = p.SS_CLAMPING
    floor_mul = p.SS_MIN_SIGNAL_REMAINING
    even_s = p.SS_SMOOTHING
    even_k = p.SS_ONE_MINUS_SMOOTHING
    odd_s = p.SS_ALTERNATE_SMOOTHING
    odd_k = p.SS_ALTERNATE_ONE_MINUS_SMOOTHING
    while True:
        yield
        for i in range(n):
            if i & 1:  # odd channels use the alternate coefficients
                smoothing = odd_s
                keep = odd_k
            else:
                smoothing = even_s
                keep = even_k
            x = inp[i]
            up = x << sbits
            if up >> 32:
                up &= 0xFFFFFFFF
            est = noise[i]
            est = ((((up >> 15) * smoothing + (est >> 15) * keep) << up_shift)
                   + (((up & 0x7FFF) * smoothing + (est & 0x7FFF) * keep) >> ssbits))
            if est >> 32:
                est &= 0xFFFFFFFF
            noise[i] = est
            if est > up:
                est = up
                if clamp:
                    noise[i] = est
            floor = (((x >> 15) * floor_mul) << up_shift) + (((x & 0x7FFF) * floor_mul) >> ssbits)
            if floor >> 32:
                floor &= 0xFFFFFFFF
            sub = (up - est) >> sbits
            out[i] = sub if sub > floor else floor


def pcan_pass(lut, snr_shift, noise, inp, n, out):
    """Generator: each next() sets out = shrink((inp * gain(noise)) >> shift) per channel.

    The gain is TFLM's WideDynamicFunction of the noise estimate (inline: a
    call per channel would cost a frame), an int16 that TFLM reads as
    uint32. For micro_speech's LUT its intermediates stay below 2**28 and it
    is never negative (tests/firmware/cpython/test_audio_frontend.py checks every input
    class). The product with the signal is split at 2**15 (exact for
    snr_shift <= 15). Prime with next().
    """
    if snr_shift > 15:
        raise ValueError("PCAN snr_shift %d > 15 is not supported" % snr_shift)
    up_shift = 15 - snr_shift
    knee = 2 << _PCAN_SNR_BITS
    sq_shift = 2 + 2 * _PCAN_SNR_BITS - _PCAN_OUTPUT_BITS
    lin_shift = _PCAN_SNR_BITS - _PCAN_OUTPUT_BITS
    lin_sub = 1 << _PCAN_OUTPUT_BITS
    while True:
        yield
        for i in range(n):
            v = noise[i]
            if v <= 2:
                gain = lut[v]
            else:
                interval = msb(v)
                base = 4 * interval - 6
                if interval < 11:
                    frac = (v << (11 - interval)) & 0x3FF
                else:
                    frac = (v >> (interval - 11)) & 0x3FF
                gain = (lut[base + 2] * frac) >> 5
                gain += lut[base + 1] << 5
                gain *= frac
                gain = (gain + (1 << 14)) >> 15
                gain += lut[base]
                gain = ((gain + 32768) & 0xFFFF) - 32768
            if gain < 0:
                gain += 0x100000000
            x = inp[i]
            snr = (((x >> 15) * gain) << up_shift) + (((x & 0x7FFF) * gain) >> snr_shift)
            if snr >> 32:
                snr &= 0xFFFFFFFF
            if snr < knee:
                out[i] = (snr * snr) >> sq_shift
            else:
                out[i] = (snr >> lin_shift) - lin_sub
