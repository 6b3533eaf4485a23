"""SignalEnergy, SignalFilterBank and SignalFilterBankSquareRoot.

TFLM: signal/src/energy.cc, filter_bank.cc, filter_bank_square_root.cc.
The mel filterbank is triangular: each FFT bin feeds one channel with
`weight` and the next with `unweight` (both Q12), so one pass accumulates
channel c's weighted sum while it starts channel c+1's from the unweights.
Sums reach ~2**47: beyond a 32-bit board's small ints, so MicroPython boxes
them for this stage (short-lived; nothing is kept).
"""

from ._bits import sqrt_round


def energy(re, im, start, end, out):
    """out[i] = re[i]**2 + im[i]**2 for start <= i < end (a uint32 in TFLM)."""
    for i in range(start, end):
        r = re[i]
        j = im[i]
        out[i] = r * r + j * j


def filterbank(spectrum, weights, unweights, freq_starts, weight_starts, widths,
               num_channels, out):
    """out[c] = channel c's weighted energy for 0 <= c < num_channels.

    TFLM accumulates num_channels + 1 bands and drops the first, which only
    collects the lower half of channel 0's triangle.
    """
    acc = 0
    for c in range(num_channels + 1):
        nxt = 0
        f = freq_starts[c]
        w = weight_starts[c]
        for j in range(widths[c]):
            e = spectrum[f + j]
            acc += weights[w + j] * e
            nxt += unweights[w + j] * e
        if c:
            out[c - 1] = acc
        acc = nxt


def filterbank_sqrt(inp, n, scale_bits, out):
    """out[i] = round(sqrt(inp[i])) >> scale_bits: amplitude, FFT auto-scale undone."""
    for i in range(n):
        out[i] = sqrt_round(inp[i]) >> scale_bits
