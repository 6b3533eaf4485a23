"""SignalEnergy, SignalFilterBank and SignalFilterBankSquareRoot.

TFLM: signal/src/energy.cc, filter_bank.cc, filter_bank_square_root.cc.
The mel filterbank is triangular: each FFT bin feeds one channel with
`weight` and the next with `unweight` (both Q12), so one pass accumulates
channel c's weighted sum while it starts channel c+1's from the unweights.

TFLM sums in uint64 (real speech reaches 2**37). A 32-bit MicroPython keeps
ints below 2**30 unboxed and boxes anything larger on the heap, so the sums
are kept as two limbs, hi * 2**14 + lo, each well inside a small int, and the
square root works from those limbs: no stage allocates per frame. The limbs
are exact for any input (Python ints do not overflow); only inputs no
microphone produces (an energy of 2**30 or more in one bin) box a value.
"""

from ._bits import msb

LIMB = 14  # filterbank sums are hi * 2**LIMB + lo, 0 <= lo < 2**LIMB
_LO = (1 << LIMB) - 1


def energy_pass(re, im, start, end, out):
    """Generator: each next() sets out[i] = re[i]**2 + im[i]**2 for start <= i < end.

    A uint32 in TFLM; the int16 inputs keep it below 2**31. Prime with next().
    """
    while True:
        yield
        for i in range(start, end):
            r = re[i]
            j = im[i]
            out[i] = r * r + j * j


def filterbank_pass(energy, weights, unweights, freq_starts, weight_starts, widths,
                    num_channels, hi, lo):
    """Generator: each next() writes channel c's weighted energy as hi[c] * 2**14 + lo[c].

    TFLM accumulates num_channels + 1 bands and drops the first, which only
    collects the lower half of channel 0's triangle. With weights <= 4096 and
    bands <= 16 bins wide (micro_speech), a lo sum stays below 2**30.
    Prime with next().
    """
    while True:
        yield
        acc_h = acc_l = 0
        for c in range(num_channels + 1):
            nxt_h = nxt_l = 0
            f = freq_starts[c]
            w = weight_starts[c]
            for j in range(widths[c]):
                e = energy[f + j]
                eh = e >> LIMB
                el = e & _LO
                k = weights[w + j]
                acc_h += k * eh
                acc_l += k * el
                k = unweights[w + j]
                nxt_h += k * eh
                nxt_l += k * el
            if c:
                hi[c - 1] = acc_h + (acc_l >> LIMB)
                lo[c - 1] = acc_l & _LO
            acc_h = nxt_h
            acc_l = nxt_l


def sqrt_pass(hi, lo, n, out):
    """Generator: `send(scale_bits)` sets out[i] = round(sqrt(hi[i] * 2**14 + lo[i])) >> scale_bits.

    The amplitude, with the FFT auto-scale undone. TFLM computes the floor
    root bit by bit and adds one when the remainder exceeds the root, unless
    the root is already the largest value of its return type (0xFFFF for
    sums below 2**32, Sqrt32; 0xFFFFFFFF above, Sqrt64). Here: Newton's
    iteration on the top 28-30 bits (a small int), then one bit of root per
    remaining pair of bits, from the limbs; the remainder stays below
    2 * root + 1, so nothing leaves a small int for sums below 2**58.
    Prime with next().
    """
    while True:
        bits = yield
        for i in range(n):
            h = hi[i]
            x = lo[i]
            if h >> (30 - LIMB):
                # x = the sum >> m2, the smallest even shift that leaves < 2**30.
                m2 = msb(h) + LIMB - 30
                m2 += m2 & 1
                if m2 >= LIMB:
                    x = h >> (m2 - LIMB)
                else:
                    x = (h << (LIMB - m2)) | (x >> m2)
            else:
                m2 = 0
                x |= h << LIMB
            if x == 0:
                out[i] = 0
                continue
            r = 1 << ((msb(x) + 1) >> 1)  # >= sqrt(x): Newton descends from above
            while True:
                y = (r + x // r) >> 1
                if y >= r:
                    break
                r = y
            rem = x - r * r
            while m2:
                m2 -= 2
                if m2 >= LIMB:
                    d = (h >> (m2 - LIMB)) & 3
                else:
                    d = (lo[i] >> m2) & 3
                rem = (rem << 2) | d
                y = (r << 2) | 1
                r <<= 1
                if rem >= y:
                    rem -= y
                    r |= 1
            if rem > r:
                if h >> (32 - LIMB):  # Sqrt64
                    if (r + 1) >> 32 == 0:
                        r += 1
                elif r != 0xFFFF:  # Sqrt32
                    r += 1
            out[i] = r >> bits
