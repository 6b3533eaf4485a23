"""The front end's heaviest stages as `@micropython.viper` machine code (the viper level).

For boards with a native emitter but no elnative.mpy (the xtensawin ESP32-S3
until its C toolchain is in). `AudioFrontend` imports this module when it can:
CPython (no `micropython` module), CircuitPython (no viper decorator) and the
WebAssembly board (no native emitter; deploy skips the file) fail the import
and keep the portable Python. Each function is the same arithmetic as its
portable stage (window.py, fft.py), so the features stay TFLM's byte for byte.

Measured first (docs/audio-frontend.md): window + auto-scale and the FFT are
about three quarters of a portable frame, so they are the stages here.

Why this is exact on 32- and 64-bit machine words alike:
- every buffer is int16 (`ptr16`), which loads zero-extended: `(v ^ 0x8000) -
  0x8000` gives back the signed value;
- a `ptr16` store keeps the low 16 bits, which is exactly C's int16 store, so
  KissFFT's butterfly outputs wrap as TFLM's do without a mask;
- every intermediate is below 2**31 (products of int16 by Q15 twiddles, sums
  of two such), and `>>` on a viper int is arithmetic, as in TFLM's build.
viper does no bounds checks: frontend.py checks the sample offset before the call,
and every other buffer is made by the front end at the size these loops use.

Only a viper function's first three locals live in registers (REG_LOCAL_NUM is 3 on
every arch), so the hottest loop variables are the first three parameters of
window, _bfly4 and fb_sqrt, and the callers pass 0 for them.
"""

import micropython


@micropython.viper
def window(i: int, v: int, peak: int, x: ptr16, off: int, w: ptr16, n: int, shift: int, out: ptr16) -> int:
    """window.window_pass for one frame: out[:n] = sat16((x[off + i] * w[i]) >> shift), then
    FftAutoScale's shift (returned). MaxAbs16's int16 peak wraps on -32768 as in C."""
    while i < n:
        s = int(x[off + i])
        s = (s ^ 0x8000) - 0x8000
        k = int(w[i])
        k = (k ^ 0x8000) - 0x8000
        v = (s * k) >> shift
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        out[i] = v
        if v > peak:
            peak = v
        elif 0 - v > peak:
            if v == -32768:
                peak = -32768
            else:
                peak = 0 - v
        i += 1
    if peak <= 0:
        return 0
    m = 0  # bit length of peak (< 2**15)
    while peak >> m:
        m += 1
    bits = 15 - m
    if bits <= 0:
        return 0
    i = 0
    while i < n:  # the int16 store wraps a shifted -32768 as C does
        v = int(out[i])
        out[i] = ((v ^ 0x8000) - 0x8000) << bits
        i += 1
    return bits


@micropython.viper
def _bfly4(a: int, v: int, k: int, wr: ptr16, wi: ptr16, twr: ptr16, twi: ptr16, n: int):
    """KissFFT's forward radix-4 stages for m = 4, 16, ... (fft.py's inner loops)."""
    m = 4
    while m < n:
        fstride = n // (4 * m)
        m2 = 2 * m
        m3 = 3 * m
        base = 0
        while base < n:
            k = 0
            while k < m:
                a = base + k
                t1 = k * fstride
                t2 = t1 + t1
                t3 = t2 + t1
                v = int(wr[a])
                ar = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                v = int(wi[a])
                ai = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                v = int(wr[a + m])
                br = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                v = int(wi[a + m])
                bi = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                v = int(wr[a + m2])
                cr = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                v = int(wi[a + m2])
                ci = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                v = int(wr[a + m3])
                dr = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                v = int(wi[a + m3])
                di = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
                w_r = int(twr[t1])
                w_r = (w_r ^ 0x8000) - 0x8000
                w_i = int(twi[t1])
                w_i = (w_i ^ 0x8000) - 0x8000
                s0r = (br * w_r - bi * w_i + 16384) >> 15
                s0i = (br * w_i + bi * w_r + 16384) >> 15
                w_r = int(twr[t2])
                w_r = (w_r ^ 0x8000) - 0x8000
                w_i = int(twi[t2])
                w_i = (w_i ^ 0x8000) - 0x8000
                s1r = (cr * w_r - ci * w_i + 16384) >> 15
                s1i = (cr * w_i + ci * w_r + 16384) >> 15
                w_r = int(twr[t3])
                w_r = (w_r ^ 0x8000) - 0x8000
                w_i = int(twi[t3])
                w_i = (w_i ^ 0x8000) - 0x8000
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
                wr[a + m2] = ar - s3r
                wi[a + m2] = ai - s3i
                wr[a] = ar + s3r
                wi[a] = ai + s3i
                wr[a + m] = s5r + s4i
                wi[a + m] = s5i - s4r
                wr[a + m3] = s5r - s4i
                wi[a + m3] = s5i + s4r
                k += 1
            base += 4 * m
        m *= 4


@micropython.viper
def _load(x: ptr16, perm2: ptr16, wr: ptr16, wi: ptr16, n: int):
    """The digit-reversed load fused with the first radix-4 stage (twiddles (32767, 0)),
    as in fft.py: no value leaves int16 here."""
    a = 0
    while a < n:
        j = int(perm2[a])
        v = int(x[j])
        ar = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
        v = int(x[j + 1])
        ai = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
        j = int(perm2[a + 1])
        v = int(x[j])
        s0r = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
        v = int(x[j + 1])
        s0i = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
        j = int(perm2[a + 2])
        v = int(x[j])
        s1r = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
        v = int(x[j + 1])
        s1i = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
        j = int(perm2[a + 3])
        v = int(x[j])
        s2r = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
        v = int(x[j + 1])
        s2i = (((v ^ 0x8000) - 0x8000) * 8191 + 16384) >> 15
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
        a += 4


@micropython.viper
def _split(wr: ptr16, wi: ptr16, sr: ptr16, si: ptr16, n: int, out_r: ptr16, out_i: ptr16):
    """kiss_fftr's split of the two interleaved real FFTs (fft.py's last loop)."""
    v = int(wr[0])
    dcr = (((v ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
    v = int(wi[0])
    dci = (((v ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
    out_r[0] = dcr + dci
    out_r[n] = dcr - dci
    out_i[0] = 0
    out_i[n] = 0
    half = n >> 1
    k = 1
    while k <= half:
        v = int(wr[k])
        pr = (((v ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
        v = int(wi[k])
        pi = (((v ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
        v = int(wr[n - k])
        qr = (((v ^ 0x8000) - 0x8000) * 16383 + 16384) >> 15
        v = int(wi[n - k])
        qi = 0 - ((v ^ 0x8000) - 0x8000)  # conj, stored as int16: only -(-32768) wraps
        if qi == 32768:
            qi = -32768
        qi = (qi * 16383 + 16384) >> 15
        f1r = pr + qr
        f1i = pi + qi
        f2r = pr - qr
        f2i = pi - qi
        w_r = int(sr[k - 1])
        w_r = (w_r ^ 0x8000) - 0x8000
        w_i = int(si[k - 1])
        w_i = (w_i ^ 0x8000) - 0x8000
        tr = (((f2r * w_r - f2i * w_i + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        ti = (((f2r * w_i + f2i * w_r + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        out_r[k] = (f1r + tr) >> 1
        out_i[k] = (f1i + ti) >> 1
        out_r[n - k] = (f1r - tr) >> 1
        out_i[n - k] = (ti - f1i) >> 1
        k += 1



@micropython.viper
def fb_sqrt(m: int, r: int, rem: int, re: ptr16, im: ptr16, band: ptr16, weights: ptr16, unweights: ptr16,
            nch: int, bits: int, out: ptr32):
    """SignalEnergy, SignalFilterBank and SignalFilterBankSquareRoot in one pass, from the
    int16 spectrum to the amplitudes (out[c] = round(sqrt(sum_c)) >> bits).

    band: int16 rows (freq_start, weight_start, width) for the nch + 1 bands, then the
    energy bounds (start, end). TFLM sums in uint64; here each energy and each sum is
    hi * 2**18 + lo with lo < 2**18, carried after every bin. frontend.py allows this
    level only for weights in 0..4096 summing to <= 2**16 per channel (micro_speech:
    triangles in Q12), so a sum is below 2**31 * 2**16 = 2**47, hi stays below 2**29 and
    every product below 2**30 on any word size. The root is taken one bit pair at a
    time from the two limbs (root < 2**24, remainder <= 2 * root), then rounded as
    Sqrt32 / Sqrt64 do.
    """
    start = int(band[3 * nch + 3])
    end = int(band[3 * nch + 4])
    acc_h = 0
    acc_l = 0
    c = 0
    while c <= nch:
        nh = 0
        nl = 0
        f = int(band[3 * c])
        w = int(band[3 * c + 1])
        stop = f + int(band[3 * c + 2])
        while f < stop:
            eh = 0
            el = 0
            if start <= f and f < end:  # Energy leaves the other bins zero
                v = int(re[f])
                v = (v ^ 0x8000) - 0x8000
                p = v * v
                eh = p >> 18
                el = p & 0x3FFFF
                v = int(im[f])
                v = (v ^ 0x8000) - 0x8000
                p = v * v
                eh += p >> 18
                el += p & 0x3FFFF
                eh += el >> 18
                el &= 0x3FFFF
            k = int(weights[w])
            acc_h += k * eh
            acc_l += k * el
            acc_h += acc_l >> 18
            acc_l &= 0x3FFFF
            k = int(unweights[w])
            nh += k * eh
            nl += k * el
            nh += nl >> 18
            nl &= 0x3FFFF
            f += 1
            w += 1
        if c:
            # skip the leading zero bit pairs of the 48-bit sum, then one root bit per pair
            m = 46
            while m >= 18 and (acc_h >> (m - 18)) == 0:
                m -= 2
            if m < 18:
                while m > 0 and (acc_l >> m) == 0:
                    m -= 2
            r = 0
            rem = 0
            while m >= 0:
                if m >= 18:
                    d = (acc_h >> (m - 18)) & 3
                else:
                    d = (acc_l >> m) & 3
                rem = (rem << 2) | d
                y = (r << 2) | 1
                r <<= 1
                if rem >= y:
                    rem -= y
                    r |= 1
                m -= 2
            # round half up, except that Sqrt32 (sums below 2**32) saturates at 0xFFFF; a sum
            # of 2**32 or more has a root above 0xFFFF, and Sqrt64's cannot saturate here
            if rem > r and r != 0xFFFF:
                r += 1
            out[c - 1] = r >> bits
        acc_h = nh
        acc_l = nl
        c += 1


@micropython.viper
def tail(amp: ptr32, noise: ptr32, cfg: ptr16, pcan_lut: ptr16, log_lut: ptr16, nch: int, out: ptr8):
    """Spectral subtraction, PCAN, log and the int8 tail (noise.py, logscale.py) per channel.

    amp: the amplitudes (< 2**24); noise: the uint32 noise estimates, updated in place;
    cfg: the int16 scalars in frontend._viper_tail's order. uint32 arithmetic is done in
    `uint` and masked with 0xFFFFFFFF (built at run time) where C truncates, so x64's
    64-bit words give C's values too. The products are split at 2**15 as in noise.py;
    PCAN's gain must be a non-negative int16 (frontend.py checks the LUT with pcan_ok).
    """
    mask = uint(0xFFFF)
    mask = (mask << 16) | mask
    sbits = uint(cfg[0])
    ssbits = uint(cfg[1])
    up_shift = uint(cfg[2])
    clamp = int(cfg[3])
    floor_mul = uint(cfg[4])
    snr_shift = uint(cfg[9])
    pcan_up = uint(cfg[10])
    corr = uint(cfg[11])
    scale = uint(cfg[12])
    v = int(cfg[13])
    mul = (v ^ 0x8000) - 0x8000
    v = int(cfg[14])
    add = (v ^ 0x8000) - 0x8000
    div = int(cfg[15])
    v = int(cfg[16])
    offset = (v ^ 0x8000) - 0x8000
    v = int(cfg[17])
    lo = (v ^ 0x8000) - 0x8000
    v = int(cfg[18])
    hi = (v ^ 0x8000) - 0x8000
    i = 0
    while i < nch:
        # spectral subtraction
        if i & 1:
            s = uint(cfg[7])
            k = uint(cfg[8])
        else:
            s = uint(cfg[5])
            k = uint(cfg[6])
        x = uint(amp[i])
        up = (x << sbits) & mask
        est = uint(noise[i]) & mask
        est = (((((up >> 15) * s + (est >> 15) * k) << up_shift)
                + (((up & 0x7FFF) * s + (est & 0x7FFF) * k) >> ssbits)) & mask)
        noise[i] = est
        if est > up:
            est = up
            if clamp:
                noise[i] = est
        floor = ((((x >> 15) * floor_mul) << up_shift) + (((x & 0x7FFF) * floor_mul) >> ssbits)) & mask
        x = (up - est) >> sbits
        if floor > x:
            x = floor
        # PCAN: gain from the noise estimate, then the shrink
        nv = uint(noise[i]) & mask
        if nv <= uint(2):
            g = int(pcan_lut[nv])
            g = (g ^ 0x8000) - 0x8000
        else:
            m = uint(0)  # bit length of nv, inline (a call would box a uint32 above 2**30)
            t = nv
            if t >> 16:
                t >>= 16
                m += 16
            if t >> 8:
                t >>= 8
                m += 8
            if t >> 4:
                t >>= 4
                m += 4
            if t >> 2:
                t >>= 2
                m += 2
            if t >> 1:
                t >>= 1
                m += 1
            m += t
            interval = int(m)
            base = 4 * interval - 6
            if interval < 11:
                frac = int((nv << uint(11 - interval)) & 0x3FF)
            else:
                frac = int((nv >> uint(interval - 11)) & 0x3FF)
            c2 = int(pcan_lut[base + 2])
            c2 = (c2 ^ 0x8000) - 0x8000
            c1 = int(pcan_lut[base + 1])
            c1 = (c1 ^ 0x8000) - 0x8000
            c0 = int(pcan_lut[base])
            c0 = (c0 ^ 0x8000) - 0x8000
            g = (c2 * frac) >> 5
            g += c1 << 5
            g *= frac
            g = (g + 16384) >> 15
            g += c0
            g = ((g + 32768) & 0xFFFF) - 32768
        gain = uint(g)
        snr = (((((x >> 15) * gain) << pcan_up) + (((x & 0x7FFF) * gain) >> snr_shift)) & mask)
        if snr < uint(8192):  # 2 << kPcanSnrBits
            x = (snr * snr) >> 20  # 2 + 2 * 12 - 6
        else:
            x = (snr >> 6) - 64  # kPcanSnrBits - kPcanOutputBits, 1 << kPcanOutputBits
        # log
        x = (x << corr) & mask
        if x <= uint(1):
            lv = 0
        else:
            m = uint(0)  # bit length of x, inline (a call would box a uint32 above 2**30)
            t = x
            if t >> 16:
                t >>= 16
                m += 16
            if t >> 8:
                t >>= 8
                m += 8
            if t >> 4:
                t >>= 4
                m += 4
            if t >> 2:
                t >>= 2
                m += 2
            if t >> 1:
                t >>= 1
                m += 1
            m += t
            integer = m - 1
            ufrac = x - (uint(1) << integer)
            if integer < uint(16):
                ufrac = ufrac << (16 - integer)
            else:
                ufrac = ufrac >> (integer - 16)
            frac = int(ufrac)
            seg = frac >> 9
            c0 = int(log_lut[seg])  # uint16 table
            c1 = int(log_lut[seg + 1])
            log2 = (int(integer) << 16) + frac + c0 + (((c1 - c0) * (frac - (seg << 9))) >> 16)
            loge = (45426 * (log2 >> 14) + ((45426 * (log2 & 0x3FFF) + 32768) >> 14)) >> 2
            u = ((scale * uint(loge) + 32768) & mask) >> 16
            lv = int(u)
            if u >= uint(32767):
                lv = 32767
        # int8: DIV truncates toward zero
        v = lv * mul + add
        if v < 0:
            v = 0 - ((0 - v) // div)
        else:
            v = v // div
        v += offset
        if v > hi:
            v = hi
        if v < lo:
            v = lo
        out[i] = v
        i += 1


@micropython.viper
def pcan_ok(lut: ptr16, n: int) -> int:
    """1 when WideDynamicFunction's gain is a non-negative int16 with int32 intermediates
    below 2**30 for every uint32 noise estimate this LUT can see (tail() relies on it)."""
    if n < 4 * 32 - 6 + 3:
        return 0
    interval = 2
    while interval <= 32:
        base = 4 * interval - 6
        c2 = int(lut[base + 2])
        c2 = (c2 ^ 0x8000) - 0x8000
        c1 = int(lut[base + 1])
        c1 = (c1 ^ 0x8000) - 0x8000
        c0 = int(lut[base])
        c0 = (c0 ^ 0x8000) - 0x8000
        frac = 0
        while frac < 1024:
            g = (c2 * frac) >> 5
            g += c1 << 5
            if g >= 1048576 or g <= -1048576:  # g * frac stays below 2**30
                return 0
            g *= frac
            g = (g + 16384) >> 15
            g += c0
            if g < 0 or g > 32767:
                return 0
            frac += 1
        interval += 1
    v = 0
    while v <= 2:
        g = int(lut[v])
        if g > 32767:
            return 0
        v += 1
    return 1
