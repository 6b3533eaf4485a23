"""SignalFilterBankSpectralSubtraction and SignalPCAN (per-channel noise handling).

TFLM: signal/src/filter_bank_spectral_subtraction.cc, pcan_argc_fixed.cc.
Spectral subtraction keeps a running noise estimate per channel (the only
state of the whole front end, reset per clip) and subtracts it, leaving at
least `min_signal_remaining` of the signal. PCAN then divides each channel by
a power of its noise estimate through a piecewise-quadratic LUT and
compresses the result. All arithmetic is uint32 with explicit wraps where C
would wrap.
"""

from ._bits import msb

_U32 = 0xFFFFFFFF
_PCAN_SNR_BITS = 12  # kPcanSnrBits in TFLM
_PCAN_OUTPUT_BITS = 6  # kPcanOutputBits


def spectral_subtraction(p, inp, n, noise, out):
    """Update `noise` in place from `inp` and write the denoised channels to `out`.

    `p` holds the SS_* scalars of the parameter module.
    """
    sbits = p.SS_SMOOTHING_BITS
    ssbits = p.SS_SPECTRAL_SUBTRACTION_BITS
    clamp = p.SS_CLAMPING
    floor_mul = p.SS_MIN_SIGNAL_REMAINING
    for i in range(n):
        if i & 1:  # odd channels use the alternate coefficients
            smoothing = p.SS_ALTERNATE_SMOOTHING
            keep = p.SS_ALTERNATE_ONE_MINUS_SMOOTHING
        else:
            smoothing = p.SS_SMOOTHING
            keep = p.SS_ONE_MINUS_SMOOTHING
        x = inp[i]
        up = (x << sbits) & _U32
        est = ((up * smoothing + noise[i] * keep) >> ssbits) & _U32
        noise[i] = est
        if est > up:
            est = up
            if clamp:
                noise[i] = est
        floor = ((x * floor_mul) >> ssbits) & _U32
        sub = (up - est) >> sbits
        out[i] = sub if sub > floor else floor


def wide_dynamic_function(x, lut):
    """TFLM's WideDynamicFunction: the PCAN gain for noise estimate x (an int16)."""
    if x <= 2:
        return lut[x]
    interval = msb(x)
    base = 4 * interval - 6
    if interval < 11:
        frac = (x << (11 - interval)) & 0x3FF
    else:
        frac = (x >> (interval - 11)) & 0x3FF
    result = (lut[base + 2] * frac) >> 5
    result += lut[base + 1] << 5
    result *= frac
    result = (result + (1 << 14)) >> 15
    result += lut[base]
    return ((result + 32768) & 0xFFFF) - 32768


def pcan(lut, snr_shift, noise, inp, n, out):
    """Per-channel automatic gain control: out = shrink((inp * gain(noise)) >> shift)."""
    for i in range(n):
        gain = wide_dynamic_function(noise[i], lut) & _U32
        snr = ((inp[i] * gain) >> snr_shift) & _U32
        if snr < (2 << _PCAN_SNR_BITS):
            out[i] = (snr * snr) >> (2 + 2 * _PCAN_SNR_BITS - _PCAN_OUTPUT_BITS)
        else:
            out[i] = (snr >> (_PCAN_SNR_BITS - _PCAN_OUTPUT_BITS)) - (1 << _PCAN_OUTPUT_BITS)
