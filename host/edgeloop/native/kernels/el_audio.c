/* TFLM's audio preprocessor (micro_speech front end), stage by stage in C.
 *
 * Each function follows one TFLM signal-library kernel operation by operation;
 * docs/audio-frontend.md gives the arithmetic, and every place where C stores
 * into a narrower type than it computes in is a store into that type here too
 * (the int16 butterflies, the uint32 noise estimate), so hostile inputs wrap
 * exactly as TFLM's do. Where TFLM multiplies in uint64 but the result
 * provably fits 32 bits, 32-bit arithmetic is used (ARMv6-M has no 64-bit
 * multiply: each would be a libgcc call); each such place says why it fits.
 */
#include "el_audio.h"

static int32_t bitlen(uint32_t x) { /* MostSignificantBit32 for x > 0; 0 for 0 */
    return x ? 32 - __builtin_clz(x) : 0;
}

static int in_range(int32_t v, int32_t lo, int32_t hi) {
    return v >= lo && v <= hi;
}

const char *el_audio_bind(el_audio *a, const int32_t *h, size_t header_len, const int16_t *tables,
                          size_t tables_len) {
    if (header_len < EL_AU_HEADER || h[EL_AU_VERSION] != EL_AUDIO_VERSION)
        return "audio: header of another version; deploy again";
    const int16_t *t[EL_AT_COUNT];
    int32_t count[EL_AT_COUNT];
    for (int i = 0; i < EL_AT_COUNT; i++) {
        int32_t at = h[EL_AU_TABLES + 2 * i], c = h[EL_AU_TABLES + 2 * i + 1];
        if (at < 0 || c < 0 || (uint64_t)at + (uint64_t)c > tables_len)
            return "audio: a table lies outside the table buffer";
        t[i] = tables + at;
        count[i] = c;
    }
    int32_t fft = h[EL_AU_FFT_LENGTH], n = fft / 2, nch = h[EL_AU_NUM_CHANNELS];
    int32_t stages = 0;
    while ((4 << (2 * stages)) < n && stages < 8)
        stages++;
    if (fft != 2 * n || n < 16 || n != (4 << (2 * stages)))
        return "audio: fft_length must be 2 * 4**k (32 .. 131072)";
    if (!in_range(h[EL_AU_FRAME_LENGTH], 1, fft) || count[EL_AT_WINDOW] != h[EL_AU_FRAME_LENGTH] ||
        !in_range(h[EL_AU_WINDOW_SHIFT], 0, 31))
        return "audio: window does not fit the FFT";
    if (count[EL_AT_FFT_TW_RE] != n || count[EL_AT_FFT_TW_IM] != n || count[EL_AT_FFT_SUPER_RE] != n / 2 ||
        count[EL_AT_FFT_SUPER_IM] != n / 2)
        return "audio: twiddle tables do not match fft_length";
    if (!in_range(h[EL_AU_ENERGY_START], 0, n + 1) || !in_range(h[EL_AU_ENERGY_END], h[EL_AU_ENERGY_START], n + 1))
        return "audio: energy bins outside the spectrum";
    if (!in_range(nch, 1, 1024) || count[EL_AT_FB_FREQ_STARTS] != nch + 1 || count[EL_AT_FB_WEIGHT_STARTS] != nch + 1 ||
        count[EL_AT_FB_WIDTHS] != nch + 1 || count[EL_AT_FB_UNWEIGHTS] != count[EL_AT_FB_WEIGHTS])
        return "audio: filterbank tables do not match num_channels";
    for (int32_t c = 0; c <= nch; c++) {
        int32_t f = t[EL_AT_FB_FREQ_STARTS][c], w = t[EL_AT_FB_WEIGHT_STARTS][c], k = t[EL_AT_FB_WIDTHS][c];
        if (f < 0 || w < 0 || k < 0 || f + k > n + 1 || w + k > count[EL_AT_FB_WEIGHTS])
            return "audio: a filterbank band lies outside its tables";
    }
    if (!in_range(h[EL_AU_SS_SMOOTHING_BITS], 0, 31) || !in_range(h[EL_AU_SS_SPECTRAL_SUBTRACTION_BITS], 0, 31) ||
        !in_range(h[EL_AU_SS_SMOOTHING], 0, 65535) || !in_range(h[EL_AU_SS_ONE_MINUS_SMOOTHING], 0, 65535) ||
        !in_range(h[EL_AU_SS_ALTERNATE_SMOOTHING], 0, 65535) ||
        !in_range(h[EL_AU_SS_ALTERNATE_ONE_MINUS_SMOOTHING], 0, 65535) ||
        !in_range(h[EL_AU_SS_MIN_SIGNAL_REMAINING], 0, 65535))
        return "audio: spectral subtraction settings out of range";
    /* WideDynamicFunction reads lut[4 * msb - 6 + 2] for msb up to 32 */
    if (!in_range(h[EL_AU_PCAN_SNR_SHIFT], 0, 63) || count[EL_AT_PCAN_LUT] < 4 * 32 - 3)
        return "audio: PCAN settings out of range";
    /* Log2FractionPart32 reads lut[127 + 1]; the tail's products must stay in int32 */
    if (count[EL_AT_LOG_LUT] < 129 || !in_range(h[EL_AU_LOG_CORRECTION_BITS], 0, 31) ||
        !in_range(h[EL_AU_LOG_OUTPUT_SCALE], 0, 32767) || !in_range(h[EL_AU_OUT_MUL], -65536, 65536) ||
        h[EL_AU_OUT_DIV] <= 0)
        return "audio: log or int8 settings out of range";
    a->h = h;
    a->frame_length = h[EL_AU_FRAME_LENGTH];
    a->fft_length = fft;
    a->n = n;
    a->num_channels = nch;
    a->n_weights = count[EL_AT_FB_WEIGHTS];
    a->window = t[EL_AT_WINDOW];
    a->weights = t[EL_AT_FB_WEIGHTS];
    a->unweights = t[EL_AT_FB_UNWEIGHTS];
    a->freq_starts = t[EL_AT_FB_FREQ_STARTS];
    a->weight_starts = t[EL_AT_FB_WEIGHT_STARTS];
    a->widths = t[EL_AT_FB_WIDTHS];
    a->pcan_lut = t[EL_AT_PCAN_LUT];
    a->tw_re = t[EL_AT_FFT_TW_RE];
    a->tw_im = t[EL_AT_FFT_TW_IM];
    a->super_re = t[EL_AT_FFT_SUPER_RE];
    a->super_im = t[EL_AT_FFT_SUPER_IM];
    a->log_lut = (const uint16_t *)t[EL_AT_LOG_LUT];
    return 0;
}

/* ---- SignalWindow + SignalFftAutoScale ----------------------------------------------------- */
/* The exact loop: saturation, and MaxAbs16's int16 peak (a -32768 wraps it to -32768,
 * after which any later sample replaces it). */
static int16_t window_exact(const int16_t *x, const int16_t *w, int32_t shift, int32_t len, int16_t *out) {
    int16_t peak = 0;
    for (int32_t i = 0; i < len; i++) {
        int32_t v = ((int32_t)x[i] * w[i]) >> shift;
        if (v > 32767)
            v = 32767;
        else if (v < -32768)
            v = -32768;
        out[i] = (int16_t)v;
        if (v > peak)
            peak = (int16_t)v;
        else if (-v > peak)
            peak = (int16_t)-v;
    }
    return peak;
}

int32_t el_audio_window(const el_audio *a, const int16_t *x, int16_t *out) {
    const int16_t *w = a->window;
    int32_t shift = a->h[EL_AU_WINDOW_SHIFT], len = a->frame_length;
    /* Fast pass: the products' range only. With every value inside (-32768, 32767] there
     * is nothing to saturate and the int16 peak never wraps, so it is max(hi, -lo);
     * otherwise the exact loop runs again (full-scale input only). */
    int32_t hi = 0, lo = 0;
    for (int32_t i = 0; i < len; i++) {
        int32_t v = ((int32_t)x[i] * w[i]) >> shift;
        out[i] = (int16_t)v;
        if (v > hi)
            hi = v;
        if (v < lo)
            lo = v;
    }
    int16_t peak;
    if (hi > 32767 || lo <= -32768)
        peak = window_exact(x, w, shift, len, out);
    else
        peak = (int16_t)(hi > -lo ? hi : -lo);
    for (int32_t i = len; i < a->fft_length; i++)
        out[i] = 0;
    /* 16 - MostSignificantBit32((uint32)peak) - 1, with MSB(0) = 32 as in TFLM's gcc build */
    uint32_t u = (uint32_t)(int32_t)peak;
    int32_t bits = 15 - (u ? bitlen(u) : 32);
    if (bits <= 0)
        return 0;
    for (int32_t i = 0; i < len; i++)
        out[i] = (int16_t)((uint32_t)(int32_t)out[i] << bits);
    return bits;
}

/* ---- SignalRfft (int16): KissFFT v130 fixed point ------------------------------------------ */
#define FIXDIV4(v) (((int32_t)(v) * 8191 + 16384) >> 15)  /* C_FIXDIV(., 4) */
#define FIXDIV2(v) (((int32_t)(v) * 16383 + 16384) >> 15) /* C_FIXDIV(., 2) */

/* The radix-4 butterfly's sums from a, s0, s1, s2 (s* the twiddled b, c, d), computed in
 * place in three steps so that at most eight values are live: ARMv6-M has eight low
 * registers, and gcc spilled a one-step version heavily. Outputs stored as int16
 * (wrapping as KissFFT's kiss_fft_cpx does), held in the int32 work buffer. */
static inline void bfly4_out(int32_t *f0, int32_t *f1, int32_t *f2, int32_t *f3, int32_t ar, int32_t ai) {
    int32_t s3r = f1[0] + f3[0], s3i = f1[1] + f3[1];
    int32_t s4r = f1[0] - f3[0], s4i = f1[1] - f3[1];
    f1[0] = s3r;
    f1[1] = s3i;
    f3[0] = s4r;
    f3[1] = s4i;
    int32_t s5r = ar - f2[0], s5i = ai - f2[1];
    ar += f2[0];
    ai += f2[1];
    s3r = f1[0];
    s3i = f1[1];
    f0[0] = (int16_t)(ar + s3r);
    f0[1] = (int16_t)(ai + s3i);
    f2[0] = (int16_t)(ar - s3r);
    f2[1] = (int16_t)(ai - s3i);
    s4r = f3[0];
    s4i = f3[1];
    f1[0] = (int16_t)(s5r + s4i);
    f1[1] = (int16_t)(s5i - s4r);
    f3[0] = (int16_t)(s5r - s4i);
    f3[1] = (int16_t)(s5i + s4r);
}

/* v (one complex value, already divided by 4) times twiddle (wr, wi), rounded to Q15, in place */
static inline void cmul_q15(int32_t *v, int32_t wr, int32_t wi) {
    int32_t br = v[0], bi = v[1];
    v[0] = (br * wr - bi * wi + 16384) >> 15;
    v[1] = (br * wi + bi * wr + 16384) >> 15;
}

void el_audio_rfft(const el_audio *a, const int16_t *x, int32_t *w, int16_t *out) {
    const int32_t n = a->n, q = n / 4;
    int32_t digits = 0;
    while ((1 << (2 * digits)) < q)
        digits++;
    /* The digit-reversed load fused with the radix-4 stage m = 1: its twiddles are
     * (32767, 0), which C_MUL returns unchanged for |v| <= 8192 (after FIXDIV4),
     * and sums of four such values stay inside int16. Output o = 4 * blk + r reads
     * input rev(o) = r * n / 4 + rev(blk). */
    for (int32_t blk = 0; blk < q; blk++) {
        uint32_t rest = (uint32_t)blk, j = 0;
        for (int32_t d = 0; d < digits; d++) {
            j = (j << 2) | (rest & 3);
            rest >>= 2;
        }
        int32_t *f = w + 8 * blk;
        const int16_t *src = x + 2 * j;
        for (int32_t r = 1; r < 4; r++) {
            f[2 * r] = FIXDIV4(src[2 * q * r]);
            f[2 * r + 1] = FIXDIV4(src[2 * q * r + 1]);
        }
        bfly4_out(f, f + 2, f + 4, f + 6, FIXDIV4(src[0]), FIXDIV4(src[1]));
    }
    /* kf_bfly4 for m = 4, 16, ...: every operand divided by 4, products rounded to Q15.
     * |b| <= 8192 after FIXDIV4, so a C_MUL sum stays below 2**29. */
    const int16_t *twr = a->tw_re, *twi = a->tw_im;
    for (int32_t m = 4, fstride = n / 16; m < n; m *= 4, fstride /= 4) {
        for (int32_t base = 0; base < n; base += 4 * m) {
            int32_t *f0 = w + 2 * base, *f1 = f0 + 2 * m, *f2 = f1 + 2 * m, *f3 = f2 + 2 * m;
            for (int32_t k = 0, t = 0; k < m; k++, t += fstride) {
                f1[0] = FIXDIV4(f1[0]);
                f1[1] = FIXDIV4(f1[1]);
                cmul_q15(f1, twr[t], twi[t]);
                f2[0] = FIXDIV4(f2[0]);
                f2[1] = FIXDIV4(f2[1]);
                cmul_q15(f2, twr[2 * t], twi[2 * t]);
                f3[0] = FIXDIV4(f3[0]);
                f3[1] = FIXDIV4(f3[1]);
                cmul_q15(f3, twr[3 * t], twi[3 * t]);
                /* bfly4_out pairs s0 = f1, s1 = f2, s2 = f3 as KissFFT's scratch[0..2] */
                bfly4_out(f0, f1, f2, f3, FIXDIV4(f0[0]), FIXDIV4(f0[1]));
                f0 += 2;
                f1 += 2;
                f2 += 2;
                f3 += 2;
            }
        }
    }
    /* kiss_fftr: split the two interleaved real FFTs. |p|, |q| <= 16383 after FIXDIV2, so
     * f1 and f2 fit int16 as KissFFT stores them, and a C_MUL sum stays below 2**31. */
    int32_t dcr = FIXDIV2(w[0]), dci = FIXDIV2(w[1]);
    out[0] = (int16_t)(dcr + dci);
    out[1] = 0;
    out[2 * n] = (int16_t)(dcr - dci);
    out[2 * n + 1] = 0;
    const int16_t *sr = a->super_re, *si = a->super_im;
    for (int32_t k = 1; k <= n / 2; k++) {
        int32_t pr = FIXDIV2(w[2 * k]), pi = FIXDIV2(w[2 * k + 1]);
        int32_t qr = FIXDIV2(w[2 * (n - k)]);
        int32_t qi = FIXDIV2((int16_t)-w[2 * (n - k) + 1]); /* conj stored as int16 */
        int32_t f1r = pr + qr, f1i = pi + qi, f2r = pr - qr, f2i = pi - qi;
        int32_t wr = sr[k - 1], wi = si[k - 1];
        int32_t tr = (int16_t)((f2r * wr - f2i * wi + 16384) >> 15);
        int32_t ti = (int16_t)((f2r * wi + f2i * wr + 16384) >> 15);
        out[2 * k] = (int16_t)((f1r + tr) >> 1);
        out[2 * k + 1] = (int16_t)((f1i + ti) >> 1);
        out[2 * (n - k)] = (int16_t)((f1r - tr) >> 1);
        out[2 * (n - k) + 1] = (int16_t)((ti - f1i) >> 1);
    }
}

/* ---- SignalEnergy: bins outside [start, end) are 0 (the graph slices them off) -------------- */
void el_audio_energy(const el_audio *a, const int16_t *s, uint32_t *e) {
    int32_t start = a->h[EL_AU_ENERGY_START], end = a->h[EL_AU_ENERGY_END];
    for (int32_t i = 0; i <= a->n; i++) {
        if (i < start || i >= end) {
            e[i] = 0;
            continue;
        }
        int32_t r = s[2 * i], j = s[2 * i + 1];
        e[i] = (uint32_t)(r * r) + (uint32_t)(j * j);
    }
}

/* ---- SignalFilterBank: num_channels + 1 bands accumulated, band 0 dropped --------------------
 * TFLM adds int16 weight x uint32 energy in uint64. Each energy is split at 2**16, so
 * every product is an int32 (|w| <= 2**15, half < 2**16) and only the sums are 64-bit;
 * the result is the same modulo 2**64 for any weights (a negative int16 weight is a
 * huge uint64 in TFLM: adding w * e modulo 2**64 is the same). */
/* True when every weight is >= 0 and each channel's weights (the unweights of the band
 * before plus the weights of its own) sum to at most 2**16: then each half-sum
 * (energy halves < 2**16) stays below 2**32 and uint32 accumulators are exact.
 * micro_speech's Q12 triangles qualify; the 64-bit loop below covers anything else. */
static int filterbank_fits32(const el_audio *a) {
    const int16_t *wt = a->weights, *uw = a->unweights;
    int32_t neg = 0, prev_u = 0;
    for (int32_t c = 0; c <= a->num_channels; c++) {
        int32_t w0 = a->weight_starts[c], width = a->widths[c], sw = 0, su = 0;
        for (int32_t j = 0; j < width; j++) {
            int32_t k = wt[w0 + j], u = uw[w0 + j];
            sw += k;
            su += u;
            neg |= k | u;
        }
        if (c && prev_u + sw > 65536)
            return 0;
        prev_u = su;
    }
    return neg >= 0;
}

void el_audio_filterbank(const el_audio *a, const uint32_t *e, uint64_t *out) {
    const int16_t *wt = a->weights, *uw = a->unweights;
    if (filterbank_fits32(a)) {
        uint32_t ah = 0, al = 0;
        for (int32_t c = 0; c <= a->num_channels; c++) {
            uint32_t nh = 0, nl = 0;
            const uint32_t *ec = e + a->freq_starts[c];
            const int16_t *k = wt + a->weight_starts[c], *u = uw + a->weight_starts[c];
            for (int32_t j = 0, width = a->widths[c]; j < width; j++) {
                uint32_t eh = ec[j] >> 16, el = ec[j] & 0xFFFF, kj = (uint32_t)k[j], uj = (uint32_t)u[j];
                ah += kj * eh;
                al += kj * el;
                nh += uj * eh;
                nl += uj * el;
            }
            if (c)
                out[c - 1] = ((uint64_t)ah << 16) + al;
            ah = nh;
            al = nl;
        }
        return;
    }
    int64_t acc_h = 0, acc_l = 0;
    for (int32_t c = 0; c <= a->num_channels; c++) {
        int64_t nh = 0, nl = 0;
        const uint32_t *ec = e + a->freq_starts[c];
        int32_t w0 = a->weight_starts[c], width = a->widths[c];
        for (int32_t j = 0; j < width; j++) {
            int32_t eh = (int32_t)(ec[j] >> 16), el = (int32_t)(ec[j] & 0xFFFF);
            int32_t k = wt[w0 + j], u = uw[w0 + j];
            acc_h += k * eh;
            acc_l += k * el;
            nh += u * eh;
            nl += u * el;
        }
        if (c)
            out[c - 1] = ((uint64_t)acc_h << 16) + (uint64_t)acc_l;
        acc_h = nh;
        acc_l = nl;
    }
}

/* ---- SignalFilterBankSquareRoot: rounded Sqrt32/Sqrt64, then >> scale_bits ------------------ */
static uint32_t sqrt32(uint32_t x) {
    if (x == 0)
        return 0;
    uint32_t r = 0, bit = 1u << ((bitlen(x) - 1) & ~1);
    while (bit) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    if (x > r && r != 0xFFFF)
        r++;
    return r;
}

static uint32_t sqrt64(uint64_t x) {
    uint32_t hi = (uint32_t)(x >> 32);
    if (hi == 0)
        return sqrt32((uint32_t)x);
    uint64_t r = 0, bit = (uint64_t)1 << ((bitlen(hi) + 31) & ~1);
    while (bit) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    if (x > r && r != 0xFFFFFFFFu)
        r++;
    return (uint32_t)r;
}

void el_audio_sqrt(const el_audio *a, const uint64_t *in, int32_t bits, uint32_t *out) {
    for (int32_t i = 0; i < a->num_channels; i++)
        out[i] = sqrt64(in[i]) >> bits;
}

/* ---- SignalFilterBankSpectralSubtraction: the noise estimate is the only state --------------- */
void el_audio_spectral_subtraction(const el_audio *a, const uint32_t *in, uint32_t *noise, uint32_t *out) {
    const int32_t *h = a->h;
    int32_t sbits = h[EL_AU_SS_SMOOTHING_BITS], ssbits = h[EL_AU_SS_SPECTRAL_SUBTRACTION_BITS];
    uint32_t floor_mul = (uint32_t)h[EL_AU_SS_MIN_SIGNAL_REMAINING];
    /* ARMv6-M has no 64-bit multiply: split the uint32 factors at 2**15 (as the portable
     * Python does) when every coefficient pair sums to at most 2**14 and the shift is <= 15,
     * so that each partial sum stays below 2**31; the result is the same modulo 2**32. */
    int fast = ssbits <= 15 && floor_mul <= 16384 &&
               h[EL_AU_SS_SMOOTHING] + h[EL_AU_SS_ONE_MINUS_SMOOTHING] <= 16384 &&
               h[EL_AU_SS_ALTERNATE_SMOOTHING] + h[EL_AU_SS_ALTERNATE_ONE_MINUS_SMOOTHING] <= 16384;
    for (int32_t i = 0; i < a->num_channels; i++) {
        uint32_t s = (uint32_t)h[(i & 1) ? EL_AU_SS_ALTERNATE_SMOOTHING : EL_AU_SS_SMOOTHING];
        uint32_t k = (uint32_t)h[(i & 1) ? EL_AU_SS_ALTERNATE_ONE_MINUS_SMOOTHING : EL_AU_SS_ONE_MINUS_SMOOTHING];
        uint32_t x = in[i], up = x << sbits, est;
        if (fast) /* (hi * 2**15 + lo) * c with c <= 2**14 - s: both partial sums fit 32 bits */
            est = ((((up >> 15) * s + (noise[i] >> 15) * k)) << (15 - ssbits)) +
                  (((up & 0x7FFF) * s + (noise[i] & 0x7FFF) * k) >> ssbits);
        else
            est = (uint32_t)(((uint64_t)up * s + (uint64_t)noise[i] * k) >> ssbits);
        noise[i] = est;
        if (est > up) {
            est = up;
            if (h[EL_AU_SS_CLAMPING])
                noise[i] = est;
        }
        uint32_t floor = fast ? (((x >> 15) * floor_mul) << (15 - ssbits)) + (((x & 0x7FFF) * floor_mul) >> ssbits)
                              : (uint32_t)(((uint64_t)x * floor_mul) >> ssbits);
        uint32_t sub = (up - est) >> sbits;
        out[i] = sub > floor ? sub : floor;
    }
}

/* ---- SignalPCAN: gain from the noise estimate, then the shrink ------------------------------ */
static uint32_t wide_dynamic(uint32_t x, const int16_t *lut) {
    if (x <= 2)
        return (uint32_t)(int32_t)lut[x];
    int32_t interval = bitlen(x);
    lut += 4 * interval - 6;
    int32_t frac = (int32_t)((interval < 11 ? x << (11 - interval) : x >> (interval - 11)) & 0x3FF);
    int32_t g = ((int32_t)lut[2] * frac) >> 5;
    g += (int32_t)((uint32_t)(int32_t)lut[1] << 5);
    g = (int32_t)((uint32_t)g * (uint32_t)frac);
    g = (g + (1 << 14)) >> 15;
    g += lut[0];
    return (uint32_t)(int32_t)(int16_t)g; /* an int16 that TFLM reads as uint32 */
}

void el_audio_pcan(const el_audio *a, const uint32_t *noise, const uint32_t *in, uint32_t *out) {
    int32_t shift = a->h[EL_AU_PCAN_SNR_SHIFT];
    for (int32_t i = 0; i < a->num_channels; i++) {
        uint32_t gain = wide_dynamic(noise[i], a->pcan_lut), x = in[i], snr;
        if (gain < 0x10000u && x < 0x10000u) /* the product fits 32 bits: no 64-bit multiply */
            snr = shift < 32 ? (x * gain) >> shift : 0;
        else
            snr = (uint32_t)(((uint64_t)x * gain) >> shift);
        out[i] = snr < (2u << 12) ? (snr * snr) >> 20 : (snr >> 6) - (1u << 6);
    }
}

/* ---- SignalFilterBankLog: Log32(x << correction_bits, output_scale), saturated to int16 ------- */
void el_audio_log(const el_audio *a, const uint32_t *in, int16_t *out) {
    int32_t bits = a->h[EL_AU_LOG_CORRECTION_BITS];
    uint32_t scale = (uint32_t)a->h[EL_AU_LOG_OUTPUT_SCALE];
    const uint16_t *lut = a->log_lut;
    for (int32_t i = 0; i < a->num_channels; i++) {
        uint32_t x = in[i] << bits;
        if (x <= 1) {
            out[i] = 0;
            continue;
        }
        int32_t integer = bitlen(x) - 1;
        uint32_t frac = x - (1u << integer);
        frac = integer < 16 ? frac << (16 - integer) : frac >> (integer - 16);
        uint32_t seg = frac >> 9;
        int32_t c0 = lut[seg], c1 = lut[seg + 1];
        int32_t rel = ((c1 - c0) * (int32_t)(frac - (seg << 9))) >> 16;
        uint32_t log2 = ((uint32_t)integer << 16) + frac + (uint32_t)c0 + (uint32_t)rel;
        /* (45426 * log2 + 2**15) >> 16 in uint64, as two 32-bit products: log2 < 2**21 */
        uint32_t loge = (45426u * (log2 >> 14) + ((45426u * (log2 & 0x3FFF) + 32768u) >> 14)) >> 2;
        uint32_t v = (scale * loge + 32768u) >> 16;
        out[i] = (int16_t)(v < 32767 ? v : 32767);
    }
}

/* ---- CAST, MUL, ADD, DIV (truncating), ADD, MINIMUM, MAXIMUM, CAST in int32 ----------------- */
void el_audio_int8(const el_audio *a, const int16_t *in, int8_t *out) {
    const int32_t *h = a->h;
    int32_t mul = h[EL_AU_OUT_MUL], add = h[EL_AU_OUT_ADD], div = h[EL_AU_OUT_DIV], off = h[EL_AU_OUT_OFFSET];
    int32_t lo = h[EL_AU_OUT_MIN], hi = h[EL_AU_OUT_MAX];
    for (int32_t i = 0; i < a->num_channels; i++) {
        int32_t v = (int32_t)((uint32_t)(int32_t)in[i] * (uint32_t)mul + (uint32_t)add);
        v = (int32_t)((uint32_t)(v / div) + (uint32_t)off);
        if (v > hi)
            v = hi;
        if (v < lo)
            v = lo;
        out[i] = (int8_t)v;
    }
}

/* ---- the whole hop ---------------------------------------------------------------------------- */
typedef struct {
    size_t fb, energy, amp, den, gain, windowed, work, spectrum, log, total;
} layout;

static layout plan(const el_audio *a) {
    layout l;
    size_t nch = (size_t)a->num_channels, n = (size_t)a->n, at = 0;
    l.fb = at;
    at += 8 * nch;
    l.energy = at;
    at += 4 * (n + 1);
    l.amp = at;
    at += 4 * nch;
    l.den = at;
    at += 4 * nch;
    l.gain = at;
    at += 4 * nch;
    l.windowed = at;
    at += 2 * (size_t)a->fft_length;
    l.work = at;
    at += 8 * n;
    l.spectrum = at;
    at += 4 * (n + 1);
    l.log = at;
    at += 2 * nch;
    l.total = (at + 7) & ~(size_t)7;
    return l;
}

size_t el_audio_scratch_bytes(const el_audio *a) {
    return plan(a).total;
}

void el_audio_frame(const el_audio *a, const int16_t *samples, uint32_t *noise, void *scratch, int8_t *out) {
    layout l = plan(a);
    char *s = (char *)scratch;
    int16_t *windowed = (int16_t *)(s + l.windowed), *spectrum = (int16_t *)(s + l.spectrum);
    uint32_t *energy = (uint32_t *)(s + l.energy), *amp = (uint32_t *)(s + l.amp);
    uint32_t *den = (uint32_t *)(s + l.den), *gain = (uint32_t *)(s + l.gain);
    uint64_t *fb = (uint64_t *)(s + l.fb);
    int16_t *logv = (int16_t *)(s + l.log);
    int32_t bits = el_audio_window(a, samples, windowed);
    el_audio_rfft(a, windowed, (int32_t *)(s + l.work), spectrum);
    el_audio_energy(a, spectrum, energy);
    el_audio_filterbank(a, energy, fb);
    el_audio_sqrt(a, fb, bits, amp);
    el_audio_spectral_subtraction(a, amp, noise, den);
    el_audio_pcan(a, noise, den, gain);
    el_audio_log(a, gain, logv);
    el_audio_int8(a, logv, out);
}
