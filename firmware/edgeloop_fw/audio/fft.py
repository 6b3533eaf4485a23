"""SignalRfft for int16: TFLM's KissFFT (v130, FIXED_POINT=16) real FFT, step for step.

A real FFT of length N runs as a complex FFT of N/2 points over the samples
taken in (even, odd) pairs, then a split pass. The complex FFT is KissFFT's
decimation in time: inputs in base-4 digit-reversed order, then radix-4
butterflies that first divide every operand by 4 (so nothing overflows in
practice) and round every product as `(a*b + 2**14) >> 15`. Each value C would
store in an int16 is wrapped to int16 here too, so even pathological inputs
match. Only lengths whose half is a power of 4 are supported (512: 256 = 4**4,
micro_speech's size); KissFFT would mix in radix-2 stages for others.
"""

from array import array


class Rfft16:
    """Tables for one FFT length; `passes()` makes the generator that runs it.

    The twiddles are KissFFT's, as (re, im) tables: twr/twi for the complex
    FFT of fft_length / 2 points, str_/sti for the real split.
    """

    def __init__(self, fft_length, twr, twi, str_, sti, int16_work=False):
        """int16_work: int16 arrays as work buffers, which the viper level needs."""
        n = fft_length // 2
        digits = 0
        while (1 << (2 * digits)) < n:
            digits += 1
        if fft_length % 2 or n < 4 or (1 << (2 * digits)) != n:
            raise ValueError("fft_length %d: only 2 * 4**k (e.g. 512) is supported" % fft_length)
        if len(twr) != n or len(twi) != n or len(str_) != n // 2 or len(sti) != n // 2:
            raise ValueError("twiddle tables do not match fft_length %d" % fft_length)
        self.fft_length = fft_length
        self.n = n
        # perm2[o] = 2 * (base-4 digit reversal of o): where output slot o of
        # the complex FFT reads its (real, imag) pair from the real input.
        perm = array("H", bytes(2 * n))
        for o in range(n):
            j, rest = 0, o
            for _ in range(digits):
                j = (j << 2) | (rest & 3)
                rest >>= 2
            perm[o] = 2 * j
        self._perm2 = perm
        self._twr = twr
        self._twi = twi
        self._str = str_
        self._sti = sti
        # The complex FFT's work buffers (lists: MicroPython indexes them a
        # little faster than arrays, and this is the hottest loop).
        if int16_work:
            self._wr = array("h", bytes(2 * n))
            self._wi = array("h", bytes(2 * n))
        else:
            self._wr = [0] * n
            self._wi = [0] * n
        stages = []  # (m, fstride) of the radix-4 stages after the first
        m = 4
        while m < n:
            stages.append((m, n // (4 * m)))
            m *= 4
        self._stages = stages

    def passes(self, x, out_r, out_i):
        """Generator: each next() puts the spectrum of x[:fft_length] into out_r/out_i[:n + 1].

        Prime it with one next() (which computes nothing). x holds int16
        values; out_r/out_i get KissFFT's int16 bins (about DFT / fft_length).
        """
        n = self.n
        wr = self._wr
        wi = self._wi
        perm2 = self._perm2
        twr = self._twr
        twi = self._twi
        sr = self._str
        si = self._sti
        while True:
            yield
            # The digit-reversed load fused with the first radix-4 stage (m = 1).
            # Its twiddles are all (32767, 0), and C_MUL by that returns its input
            # unchanged for |v| <= 16384 (after C_FIXDIV |v| <= 8191); the sums of
            # four such values cannot leave int16, so no wraps are needed here.
            for a in range(0, n, 4):
                j = perm2[a]
                ar = (x[j] * 8191 + 16384) >> 15
                ai = (x[j + 1] * 8191 + 16384) >> 15
                j = perm2[a + 1]
                s0r = (x[j] * 8191 + 16384) >> 15
                s0i = (x[j + 1] * 8191 + 16384) >> 15
                j = perm2[a + 2]
                s1r = (x[j] * 8191 + 16384) >> 15
                s1i = (x[j + 1] * 8191 + 16384) >> 15
                j = perm2[a + 3]
                s2r = (x[j] * 8191 + 16384) >> 15
                s2i = (x[j + 1] * 8191 + 16384) >> 15
                s5r = ar - s1r
                s5i = ai - s1i
                ar += s1r
                ai += s1i
                s3r = s0r + s2r
                s3i = s0i + s2i
                s4r = s0r - s2r
                s4i = s0i - s2i
                wr[a + 2] = ar - s3r
                wi[a + 2] = ai - s3i
                wr[a] = ar + s3r
                wi[a] = ai + s3i
                wr[a + 1] = s5r + s4i
                wi[a + 1] = s5i - s4r
                wr[a + 3] = s5r - s4i
                wi[a + 3] = s5i + s4r
            # kf_bfly4 (forward) for m = 4, 16, ... on every block of 4 * m outputs.
            # (while loops: `for` over a range with a computed step builds a range object.)
            m = 4
            while m < n:
                fstride = n // (4 * m)
                m2 = 2 * m
                m3 = 3 * m
                base = 0
                while base < n:
                    for k in range(m):
                        a = base + k
                        t1 = k * fstride
                        t2 = t1 + t1
                        t3 = t2 + t1
                        # C_FIXDIV(., 4): x * (32767 // 4) rounded back to Q15.
                        ar = (wr[a] * 8191 + 16384) >> 15
                        ai = (wi[a] * 8191 + 16384) >> 15
                        br = (wr[a + m] * 8191 + 16384) >> 15
                        bi = (wi[a + m] * 8191 + 16384) >> 15
                        cr = (wr[a + m2] * 8191 + 16384) >> 15
                        ci = (wi[a + m2] * 8191 + 16384) >> 15
                        dr = (wr[a + m3] * 8191 + 16384) >> 15
                        di = (wi[a + m3] * 8191 + 16384) >> 15
                        # C_MUL by the three twiddles: |b| <= 8192, so each sum < 2**29.
                        w_r = twr[t1]
                        w_i = twi[t1]
                        s0r = (br * w_r - bi * w_i + 16384) >> 15
                        s0i = (br * w_i + bi * w_r + 16384) >> 15
                        w_r = twr[t2]
                        w_i = twi[t2]
                        s1r = (cr * w_r - ci * w_i + 16384) >> 15
                        s1i = (cr * w_i + ci * w_r + 16384) >> 15
                        w_r = twr[t3]
                        w_i = twi[t3]
                        s2r = (dr * w_r - di * w_i + 16384) >> 15
                        s2i = (dr * w_i + di * w_r + 16384) >> 15
                        s5r = ar - s1r
                        s5i = ai - s1i
                        ar += s1r
                        ai += s1i
                        s3r = s0r + s2r
                        s3i = s0i + s2i
                        s4r = s0r - s2r
                        s4i = s0i - s2i
                        # The four outputs are the only stores that can leave int16.
                        wr[a + m2] = ((ar - s3r + 32768) & 0xFFFF) - 32768
                        wi[a + m2] = ((ai - s3i + 32768) & 0xFFFF) - 32768
                        wr[a] = ((ar + s3r + 32768) & 0xFFFF) - 32768
                        wi[a] = ((ai + s3i + 32768) & 0xFFFF) - 32768
                        wr[a + m] = ((s5r + s4i + 32768) & 0xFFFF) - 32768
                        wi[a + m] = ((s5i - s4r + 32768) & 0xFFFF) - 32768
                        wr[a + m3] = ((s5r - s4i + 32768) & 0xFFFF) - 32768
                        wi[a + m3] = ((s5i + s4r + 32768) & 0xFFFF) - 32768
                    base += 4 * m
                m *= 4
            # kiss_fftr: separate the two interleaved real FFTs, halving as it goes.
            dcr = (wr[0] * 16383 + 16384) >> 15  # C_FIXDIV(., 2)
            dci = (wi[0] * 16383 + 16384) >> 15
            out_r[0] = ((dcr + dci + 32768) & 0xFFFF) - 32768
            out_r[n] = ((dcr - dci + 32768) & 0xFFFF) - 32768
            out_i[0] = 0
            out_i[n] = 0
            for k in range(1, n // 2 + 1):
                pr = (wr[k] * 16383 + 16384) >> 15
                pi = (wi[k] * 16383 + 16384) >> 15
                qr = (wr[n - k] * 16383 + 16384) >> 15
                qi = -wi[n - k]  # conj, stored as int16: only -(-32768) wraps
                if qi == 32768:
                    qi = -32768
                qi = (qi * 16383 + 16384) >> 15
                f1r = pr + qr
                f1i = pi + qi
                f2r = pr - qr
                f2i = pi - qi
                w_r = sr[k - 1]
                w_i = si[k - 1]
                # |f2| <= 2**15: each product fits a small int; only full-scale
                # (wrapping) inputs push the sum past 2**30 and box it.
                tr = (((f2r * w_r - f2i * w_i + 16384) >> 15) + 32768 & 0xFFFF) - 32768
                ti = (((f2r * w_i + f2i * w_r + 16384) >> 15) + 32768 & 0xFFFF) - 32768
                out_r[k] = (f1r + tr) >> 1
                out_i[k] = (f1i + ti) >> 1
                out_r[n - k] = (f1r - tr) >> 1
                out_i[n - k] = (ti - f1i) >> 1
