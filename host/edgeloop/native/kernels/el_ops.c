/* FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D on top of el_dot4_s8.
 *
 * Why im2col with the input offset folded into the bias: TFLM computes
 *   acc = bias[c] + sum_k w[c,k] * (x_k + input_offset)
 * over the taps inside the image. Gathering one output pixel's window into a
 * column, with taps outside the image set to the input zero point (so
 * x_k + input_offset == 0, an int8 value), makes every pixel the same dense
 * dot product of length K, and the sum splits exactly in int32 into
 *   (bias[c] + input_offset * sum_k w[c,k]) + sum_k w[c,k] * x_k.
 * The folded bias is computed once per call; the dot product then needs no
 * per-MAC addition and no branch per tap. The column is built once per pixel
 * and reused by every output channel (depth multiplier ones, for depthwise).
 *
 * Where the instructions go besides the MACs (measured under QEMU, see
 * docs/native-modules.md): the gather (word copies, border taps only at the
 * image edges) and one requantization per output, which on ARMv6-M avoids
 * libgcc's 64-bit multiply (el_srdhm below works on 16-bit halves).
 * On ARMv7E-M, conv and depthwise first widen their weights to int16 pairs
 * in scratch (once per call) so that the inner loop splits only the input.
 */
#include <stddef.h>

#include "el_kernels.h"
#include "el_internal.h"

#define INT32_MIN_ (-2147483647 - 1)

/* gemmlowp's SaturatingRoundingDoublingHighMul: (ab + nudge) / 2**31
 * truncated, nudge = 2**30 or 1 - 2**30 by the sign of ab. For ab < 0
 * truncation is floor((ab + 1 - 2**30 + 2**31 - 1) / 2**31), so both signs
 * are floor((ab + 2**30) / 2**31). */
static inline int32_t srdhm64(int32_t a, int32_t b) {
    return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

/* The same floor from four 16x16 products, no 64-bit multiply (ARMv6-M has
 * only MULS, and libgcc's __aeabi_lmul costs a call and ~30 instructions).
 * a = ah*2^16 + al, b = bh*2^16 + bl (ah, bh signed; al, bl in [0, 2^16)):
 * ab + 2^30 = 2^32*H + 2^16*S + (al*bl mod 2^16) with
 *   H = ah*bh + (ah*bl >> 16) + (al*bh >> 16)          (arithmetic shifts)
 *   S = (al*bl >> 16) + (ah*bl & 0xffff) + (al*bh & 0xffff) + 2^14  (>= 0)
 * every product and sum fitting 32 bits, so the floor is 2H + (S >> 15).
 * When a fits 16 bits, ab + 2^30 = 2^16 (a bh + 2^14) + a bl with a bl in 32
 * bits, so the floor is (a bh + (a bl >> 16) + 2^14) >> 15: two products
 * (el_requant_v6m.S takes this short case; bh < 2^15, so a bh fits). */
static inline int32_t srdhm16(int32_t a, int32_t b) {
    if (a == (int16_t)a)
        return (a * (b >> 16) + ((a * (int32_t)((uint32_t)b & 0xffffu)) >> 16) + (1 << 14)) >> 15;
    uint32_t al = (uint32_t)a & 0xffffu, bl = (uint32_t)b & 0xffffu;
    int32_t ah = a >> 16, bh = b >> 16;
    uint32_t lo = al * bl;
    int32_t m1 = ah * (int32_t)bl, m2 = (int32_t)al * bh;
    uint32_t s = (lo >> 16) + ((uint32_t)m1 & 0xffffu) + ((uint32_t)m2 & 0xffffu) + (1u << 14);
    uint32_t h = (uint32_t)(ah * bh) + (uint32_t)(m1 >> 16) + (uint32_t)(m2 >> 16);
    return (int32_t)(2u * h + (s >> 15));
}

#if defined(__ARM_ARCH_6M__) || defined(EL_SRDHM16)
#define srdhm_core srdhm16
#else
#define srdhm_core srdhm64
#endif

/* gemmlowp's RoundingDivideByPOT, half away from zero, e >= 1: rounds up iff
 * rem >= 2^(e-1) + (x < 0), i.e. iff rem + 2^(e-1) - (x < 0) reaches 2^e. */
static inline int32_t rdbpot(int32_t x, int32_t e) {
    if (e <= 0)
        return x;
    /* unsigned: rem + 2^(e-1) can pass 2^31 (e = 31); the sum is >= 0, so the
     * wrap of adding (x >> 31) as 0xffffffff is exact */
    uint32_t rem = (uint32_t)x & ((1u << e) - 1u);
    return (x >> e) + (int32_t)((rem + (1u << (e - 1)) + (uint32_t)(x >> 31)) >> e);
}

static inline int32_t mbqm_with(int32_t x, int32_t multiplier, int32_t shift, int halves) {
    int32_t a = shift > 0 ? (int32_t)((uint32_t)x << shift) : x;
    int32_t v;
    if (a == multiplier && a == INT32_MIN_)
        v = 2147483647;
    else
        v = halves ? srdhm16(a, multiplier) : srdhm_core(a, multiplier);
    return rdbpot(v, -shift);
}

/* tflite::MultiplyByQuantizedMultiplier as the target's kernels compute it. */
int32_t el_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    return mbqm_with(x, multiplier, shift, 0);
}

/* The ARMv6-M formula on any target, so the host tests check it too. */
int32_t el_mbqm_halves(int32_t x, int32_t multiplier, int32_t shift) {
    return mbqm_with(x, multiplier, shift, 1);
}

static inline int32_t round4(int32_t n) {
    return (n + 3) & ~3;
}

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
#include <arm_acle.h>
typedef uint32_t uint32_t_unaligned __attribute__((aligned(1), may_alias));
#define EL_ONES16 0x00010001
#endif

static int32_t row_sum(const int8_t *w, int32_t n) {
    int32_t s = 0;
#ifdef EL_ONES16
    /* a word's four bytes in 5 instructions instead of 16: SXTB16's pairs summed by SMLAD */
    for (; n >= 4; n -= 4, w += 4) {
        uint32_t u = *(const uint32_t_unaligned *)w;
        s = __smlad(__sxtb16((int8x4_t)u), (int16x2_t)EL_ONES16, s);
        s = __smlad(__sxtb16((int8x4_t)((u >> 8) | (u << 24))), (int16x2_t)EL_ONES16, s);
    }
#endif
    while (n--)
        s += *w++;
    return s;
}


#if defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
/* ARMv7E-M's short requantization (el_requant_sat_v7em.S): for a channel with
 * a right shift e of 1..22, a multiplier >= 2^30, the activation range
 * [-128, 127] and |a| < 2^30 for every accumulator a the window can give
 * (|fold| + k 2^15 bounds it whether the kernel sums x w on a folded bias or
 * (x + offset) w on the bias), TFLM's result is
 *   SSAT8((SMMLAR(2a, m, c) - (a < 0)) >> e),   c = 2^(e-1) + offset 2^e
 * (el_dw3_v7em.S derives it). prep() leaves c in bh, which only ARMv6-M reads. */
#define EL_SAT_REQUANT 1
void el_requant_sat_v7em(const int32_t *acc, const int32_t *chan, int32_t n, int8_t *out);

static int sat_ok(const el_chan *ch, const el_requant *q, int32_t k) {
    /* rshift 1..22 (a left shift has rshift 0); |fold| < lim = 2^30 - k 2^15 in unsigned arithmetic */
    uint32_t lim = (1u << 30) - (uint32_t)k * 32768u;
    return (uint32_t)ch->rshift - 1u < 22u && ch->mult >= 0x40000000 && q->act_min == -128 && q->act_max == 127 &&
           k > 0 && k < 32768 && (uint32_t)ch->fold + (lim - 1u) < 2u * lim - 1u;
}
#endif

/* returns 1 when the channel needs the slow path (the INT32_MIN multiplier,
 * whose high product can saturate); on ARMv7E-M 2 when it needs the long
 * requantization (not sat_ok) */
static int prep(el_chan *ch, const el_requant *q, const int8_t *w, int32_t k, int32_t c) {
    int32_t at = c * q->stride;
    uint32_t b = q->bias ? (uint32_t)q->bias[at] : 0u;
    if (q->input_offset)
        b += (uint32_t)q->input_offset * (uint32_t)row_sum(w, k);
    int32_t m = q->multiplier[at], s = q->shift[at];
    ch->fold = (int32_t)b;
    ch->mult = m;
    ch->bl = m & 0xffff;
    ch->bh = m >> 16;
    ch->lshift = s > 0 ? s : 0;
    ch->rshift = s > 0 ? 0 : -s;
    ch->mask = (int32_t)((1u << ch->rshift) - 1u);
    ch->half = ch->rshift ? 1 << (ch->rshift - 1) : 0;
#ifdef EL_SAT_REQUANT
    if (m == INT32_MIN_)
        return 1;
    if (!sat_ok(ch, q, k))
        return 2;
    ch->bh = ch->half + q->output_offset * (1 << ch->rshift);
    return 0;
#else
    return m == INT32_MIN_;
#endif
}

#if defined(__ARM_ARCH_6M__) && !defined(EL_PORTABLE)
void el_requant_v6m(const int32_t *acc, const int32_t *chan, int32_t n, int8_t *out, const int32_t *o);
#define EL_REQUANT_ASM(acc, chan, n, out, o) el_requant_v6m(acc, &(chan)->bl, n, out, o)
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
void el_requant_v7em(const int32_t *acc, const int32_t *chan, int32_t n, int8_t *out, const int32_t *o);
#define EL_REQUANT_ASM(acc, chan, n, out, o) el_requant_v7em(acc, &(chan)->lshift, n, out, o)
#endif

/* out[c] for c < n from acc[c] and chan[c] */
static void requant(const int32_t *acc, const el_chan *chan, int32_t n, int slow, const el_requant *q,
                    int8_t *out) {
    int32_t off = q->output_offset, lo = q->act_min, hi = q->act_max;
#ifdef EL_SAT_REQUANT
    if (!slow && n > 0) {
        el_requant_sat_v7em(acc, &chan->bh, n, out);
        return;
    }
    if (!(slow & 1) && n > 0) {
        int32_t o[3] = {off, lo, hi};
        EL_REQUANT_ASM(acc, chan, n, out, o);
        return;
    }
#elif defined(EL_REQUANT_ASM)
    if (!slow && n > 0) {
        int32_t o[3] = {off, lo, hi};
        EL_REQUANT_ASM(acc, chan, n, out, o);
        return;
    }
#endif
    if (slow) {
        for (int32_t c = 0; c < n; c++, chan++) {
            int32_t v = mbqm_with(acc[c], chan->mult, chan->lshift - chan->rshift, 0) + off;
            v = v < lo ? lo : v;
            out[c] = (int8_t)(v > hi ? hi : v);
        }
        return;
    }
    for (int32_t c = 0; c < n; c++, chan++) {
        /* mbqm_with without the saturating case (no INT32_MIN multiplier here) */
        int32_t v = srdhm_core((int32_t)((uint32_t)acc[c] << chan->lshift), chan->mult);
        int32_t e = chan->rshift;
        if (e)
            v = (v >> e) + (int32_t)((((uint32_t)v & (uint32_t)chan->mask) + (uint32_t)chan->half +
                                      (uint32_t)(v >> 31)) >> e);
        v += off;
        v = v < lo ? lo : v;
        out[c] = (int8_t)(v > hi ? hi : v);
    }
}

int el_prep_chan(el_chan *ch, const el_requant *q, const int8_t *w, int32_t k, int32_t c) {
    return prep(ch, q, w, k, c);
}

void el_requant_out(const int32_t *acc, const el_chan *chan, int32_t n, int slow, const el_requant *q,
                    int8_t *out) {
    requant(acc, chan, n, slow, q, out);
}

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
#define EL_WIDE 1 /* conv/depthwise widen their weights to int16 pairs (el_dot.c) */
#else
#define EL_WIDE 0
#endif

/* Conv's blocked rows: the weights of whole 4-row blocks are laid out once
 * per call so that one assembly call per pixel runs every block against the
 * pixel's column (a 1x1 conv is a matrix multiply whose column is the pixel
 * itself, read in place):
 * - ARMv6-M (el_pw4_v6m.S): int32 weights interleaved per tap (w[4 t + r])
 *   and the column widened to int32 once per pixel (amortized over every
 *   output channel), so each MAC is a MULS and an ADD: 2.5 instructions per
 *   MAC against 3.6 for the byte loop, whose LDRSB takes only a register
 *   offset. The int32 weights are capped at EL_I32_BYTES of scratch; rows
 *   past the cap take the byte loop.
 * - ARMv7E-M (el_pw4_v7em.S): int16 pairs as widen() makes them, but the four
 *   rows of a block side by side per 4 taps, so two LDM bring a step's
 *   weights: 28 instructions per 32 MACs against el_dot4w's 32, and no C
 *   call per block. Same scratch as before. */
#if defined(__ARM_ARCH_6M__) && !defined(EL_PORTABLE)
#define EL_I32 1
void el_pw4_v6m(const int32_t *x, const int32_t *w, int32_t kp, int32_t *acc, int32_t n, const int32_t *fold);
#else
#define EL_I32 0
#endif
#if EL_WIDE
void el_pw4_v7em(const int8_t *x, const int16_t *w, int32_t n4, int32_t *acc, int32_t n, const int32_t *fold);
void el_pw4x_v7em(const int32_t *xp, const int16_t *w, int32_t n4, int32_t *acc, int32_t n, const int32_t *fold);
#endif
_Static_assert(sizeof(el_chan) == 32 && offsetof(el_chan, fold) == 0, "el_pw4_*.S read fold every 32 bytes");
#define EL_I32_BYTES 16384

/* rows (a multiple of 4) of `rows` that go through the blocked kernel */
static int32_t blocked_rows(int32_t k, int32_t rows) {
    if (EL_WIDE)
        return rows & ~3;
    if (!EL_I32)
        return 0;
    int32_t cap = EL_I32_BYTES / (16 * round4(k)) * 4, r = rows & ~3;
    return r < cap ? r : cap;
}

/* Scratch of a depthwise gather call over `rows` output channels with dot length k:
 * the column, per channel its constants and sum, and on ARMv7E-M the widened
 * weights of the rows that go four at a time. */
static int32_t gather_scratch_bytes(int32_t k, int32_t rows) {
    return round4(k) + (int32_t)(sizeof(el_chan) + 4) * rows + (EL_WIDE ? 2 * round4(k) * (rows & ~3) : 0);
}

/* Scratch of a conv call: the same, plus on ARMv6-M the int32 column and weights
 * (ARMv7E-M's blocked weights take the widened weights' place). */
int32_t el_conv_scratch_bytes(int32_t k, int32_t rows) {
    int32_t nb = EL_I32 ? blocked_rows(k, rows) : 0;
    /* ARMv7E-M: a pixel's SXTB16 pairs (2 round4(k) bytes), or conv_pairs's stream (the
     * widened rows plus 20 bytes a row) and two pixels' pairs */
    return gather_scratch_bytes(k, rows) + (nb ? 4 * round4(k) * (1 + nb) : 0) +
           (EL_WIDE ? 2 * round4(k) * (rows & 3) + 20 * rows + 4 * round4(k) : 0);
}

/* acc[c] = chan[c].fold + rows c of w (k bytes each; w16: rows [0, count & ~3)
 * widened) against col, for c < count */
static void rows(const int8_t *col, const int8_t *w, const int16_t *w16, int32_t k, int32_t count,
                 const el_chan *chan, int32_t *acc) {
    int32_t c = 0;
    for (; c + 4 <= count; c += 4) {
        acc[c] = chan[c].fold; acc[c + 1] = chan[c + 1].fold;
        acc[c + 2] = chan[c + 2].fold; acc[c + 3] = chan[c + 3].fold;
        if (w16)
            el_dot4w_s8(col, w16 + c * round4(k), 2 * round4(k), round4(k) >> 2, acc + c);
        else
            el_dot4_s8(col, w + c * k, k, k, acc + c);
    }
    for (; c < count; c++)
        acc[c] = chan[c].fold + el_dot1_s8(col, w + c * k, k);
}

/* int16 copies of `count` rows for el_dot4w_s8 into `o`: per 4 taps of a
 * row, the pairs (w0, w2) and (w1, w3) (SXTB16's even and odd bytes of the
 * input word), taps past k zero. Returns the end. */
static int16_t *widen(const int8_t *w, int32_t k, int32_t count, int16_t *o) {
    int32_t k4 = round4(k);
    for (int32_t r = 0; r < count; r++, w += k)
        for (int32_t i = 0; i < k4; i += 4, o += 4) {
            o[0] = i < k ? w[i] : 0;
            o[1] = i + 2 < k ? w[i + 2] : 0;
            o[2] = i + 1 < k ? w[i + 1] : 0;
            o[3] = i + 3 < k ? w[i + 3] : 0;
        }
    return o;
}

/* The first `count` rows (a multiple of 4) laid out for el_pw4_*: on ARMv6-M
 * block b (rows 4b..4b+3) at wb + 4 b k4 words after the k4-word int32 column,
 * holding w[4 t + r], taps past k 0 (in the column too: each pixel sets its
 * first k); on ARMv7E-M per block and 4-tap step the rows' (w0, w2), (w1, w3). */
static void widen_blocked(const int8_t *w, int32_t k, int32_t count, void *wb) {
    int32_t k4 = round4(k);
#if EL_I32
    int32_t *xi = (int32_t *)wb, *wi = xi + k4;
    for (int32_t t = k; t < k4; t++)
        xi[t] = 0;
    for (int32_t r = 0; r < count; r++, w += k) {
        int32_t *o = wi + (r >> 2) * 4 * k4 + (r & 3);
        for (int32_t t = 0; t < k4; t++)
            o[4 * t] = t < k ? w[t] : 0;
    }
#else
    int16_t *o16 = (int16_t *)wb;
    for (int32_t r = 0; r < count; r++, w += k) {
        int16_t *o = o16 + (r >> 2) * 4 * k4 + (r & 3) * 4;
        for (int32_t i = 0; i < k4; i += 4, o += 16) {
            o[0] = i < k ? w[i] : 0;
            o[1] = i + 2 < k ? w[i + 2] : 0;
            o[2] = i + 1 < k ? w[i + 1] : 0;
            o[3] = i + 3 < k ? w[i + 3] : 0;
        }
    }
#endif
}

/* acc[c] = chan[c].fold + the blocked rows c < count against the column x
 * (k bytes; on ARMv7E-M read as words, so round4(k) bytes must be readable) */
static void blocked(const int8_t *x, void *wb, int32_t k, int32_t count, const el_chan *chan, int32_t *acc) {
#if EL_I32
    int32_t *xi = (int32_t *)wb;
    for (int32_t t = 0; t < k; t++)
        xi[t] = x[t];
    el_pw4_v6m(xi, xi + round4(k), round4(k), acc, count, &chan->fold);
#elif EL_WIDE
    if (count > 16) {
        /* the column's SXTB16 pairs once per pixel (after the widened weights; scratch
         * holds 2 round4(k) bytes more), so each block's step loads them with one LDM:
         * 7 instructions per 4 taps once against 2 per 4 taps and block: worth it past 4 blocks */
        int32_t *xp = (int32_t *)((int16_t *)wb + round4(k) * count);
        for (int32_t t = 0; t < k; t += 4) {
            uint32_t u = *(const uint32_t_unaligned *)(x + t);
            *xp++ = (int32_t)__sxtb16((int8x4_t)u);
            *xp++ = (int32_t)__sxtb16((int8x4_t)((u >> 8) | (u << 24)));
        }
        el_pw4x_v7em(xp - 2 * (round4(k) >> 2), (const int16_t *)wb, round4(k) >> 2, acc, count, &chan->fold);
        return;
    }
    el_pw4_v7em(x, (const int16_t *)wb, round4(k) >> 2, acc, count, &chan->fold);
#else
    (void)x; (void)wb; (void)k; (void)count; (void)chan; (void)acc;
#endif
}

#if EL_WIDE
void el_pw2p_v7em(const int8_t *x0, const int8_t *x1, int32_t n4, int8_t *y, const int32_t *wp, int32_t nb,
                  int32_t ystride, int32_t *pairs);

/* 1x1 convs whose every window is its pixel inside the image, with an even number
 * of rows (k a multiple of 4): el_pw2p_v7em runs two pixels per call, two rows per
 * block, and requantizes in the call, so every channel must take the short
 * requantization (slow == 0). */
static int pairs_ok(const el_geom *g, int32_t k, int32_t cn) {
    return g->filter_h == 1 && g->filter_w == 1 && k == g->in_c && k > 0 && !(k & 3) && cn > 0 && !(cn & 1) &&
           g->pad_h == 0 && g->pad_w == 0 && (g->out_h - 1) * g->stride_h < g->in_h &&
           (g->out_w - 1) * g->stride_w < g->in_w;
}

/* the 4 bytes from p as a word, those past n (< 4) zero */
static inline uint32_t word_upto(const int8_t *p, int32_t n) {
    uint32_t u = 0;
    for (int32_t i = 0; i < n; i++)
        u |= (uint32_t)(uint8_t)p[i] << (8 * i);
    return u;
}

/* el_pw2p_v7em's stream at o: per block of rows a, b (k bytes each, consecutive) their
 * doubled folds (twice), per 4 taps a's doubled (w0, w2), (w1, w3) and b's as int16
 * pairs (taps past k zero), then a's and b's short-requantization constants c, e, m. */
/* a step of el_pw2p_v7em's stream: rows a's and b's 4 taps (words ua, ub) as SXTB16's
 * pairs doubled by SADD16 (both halves at once) */
static inline int32_t *pair_step(int32_t *o, uint32_t ua, uint32_t ub) {
    int16x2_t p;
    p = __sxtb16((int8x4_t)ua);
    o[0] = (int32_t)__sadd16(p, p);
    p = __sxtb16((int8x4_t)((ua >> 8) | (ua << 24)));
    o[1] = (int32_t)__sadd16(p, p);
    p = __sxtb16((int8x4_t)ub);
    o[2] = (int32_t)__sadd16(p, p);
    p = __sxtb16((int8x4_t)((ub >> 8) | (ub << 24)));
    o[3] = (int32_t)__sadd16(p, p);
    return o + 4;
}

static int32_t *pair_stream(const int8_t *w, int32_t k, int32_t cn, const el_chan *chan, int32_t *o) {
    for (int32_t r = 0; r < cn; r += 2, w += 2 * k) {
        const el_chan *a = chan + r, *b = a + 1;
        o[0] = o[2] = (int32_t)((uint32_t)a->fold << 1);
        o[1] = o[3] = (int32_t)((uint32_t)b->fold << 1);
        o += 4;
        int32_t i = 0;
        for (; i + 4 <= k; i += 4)
            o = pair_step(o, *(const uint32_t_unaligned *)(w + i), *(const uint32_t_unaligned *)(w + k + i));
        if (i < k)
            o = pair_step(o, word_upto(w + i, k - i), word_upto(w + k + i, k - i));
        o[0] = a->bh; o[1] = a->rshift; o[2] = a->mult;
        o[3] = b->bh; o[4] = b->rshift; o[5] = b->mult;
        o += 6;
    }
    return o;
}

/* Every pixel of the batch, two per el_pw2p_v7em call (an odd last one twice onto
 * the same outputs). */
static void conv_pairs(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, void *scratch,
                       const el_chan *chan, int32_t k, int32_t c0, int32_t cn) {
    int32_t *wp = (int32_t *)scratch;
    int32_t *pairs = pair_stream(w, k, cn, chan, wp);
    int32_t total = g->batches * g->out_h * g->out_w, b = 0, oy = 0, ox = 0;
    const int8_t *xp[2];
    y += c0;
    for (int32_t p = 0; p < total; p += 2, y += 2 * g->out_c) {
        for (int32_t j = 0; j < 2 && p + j < total; j++) {
            xp[j] = x + (((b * g->in_h + oy * g->stride_h) * g->in_w) + ox * g->stride_w) * k;
            if (++ox == g->out_w) {
                ox = 0;
                if (++oy == g->out_h) {
                    oy = 0;
                    b++;
                }
            }
        }
        int last = p + 1 == total;
        el_pw2p_v7em(xp[0], last ? xp[0] : xp[1], k >> 2, y, wp, cn >> 1, last ? 0 : g->out_c, pairs);
    }
}
#endif

void el_fully_connected_s8(const int8_t *x, const int8_t *w, int8_t *y,
                           int32_t batches, int32_t depth, int32_t units, const el_requant *q) {
    el_chan chan[4];
    int32_t acc[4];
    for (int32_t u = 0; u < units; u += 4) {
        int32_t n = units - u < 4 ? units - u : 4;
        int slow = 0;
        for (int32_t r = 0; r < n; r++)
            slow |= prep(chan + r, q, w + (u + r) * depth, depth, u + r);
        for (int32_t b = 0; b < batches; b++) {
            rows(x + b * depth, w + u * depth, 0, depth, n, chan, acc);
            requant(acc, chan, n, slow, q, y + b * units + u);
        }
    }
}

/* n bytes from src to dst; word copies where the target allows */
static inline void copy(int8_t *dst, const int8_t *src, int32_t n) {
#if defined(__ARM_FEATURE_UNALIGNED) || defined(__x86_64__) || defined(__i386__)
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        uint32_t v;
        __builtin_memcpy(&v, src, 4); /* one unaligned word load and store */
        __builtin_memcpy(dst, &v, 4);
    }
#else
    if (!(((uintptr_t)dst | (uintptr_t)src) & 3)) {
        for (; n >= 4; n -= 4, dst += 4, src += 4)
            *(uint32_t *)dst = *(const uint32_t *)src;
    } else {
        /* LDRB/STRB pairs with immediate offsets, one pointer step per 8 */
        for (; n >= 8; n -= 8, dst += 8, src += 8) {
            dst[0] = src[0]; dst[1] = src[1]; dst[2] = src[2]; dst[3] = src[3];
            dst[4] = src[4]; dst[5] = src[5]; dst[6] = src[6]; dst[7] = src[7];
        }
    }
#endif
    while (n-- > 0)
        *dst++ = *src++;
}

static inline void copy_strided(int8_t *dst, const int8_t *src, int32_t n, int32_t step) {
    if (step == 1) {
        copy(dst, src, n);
        return;
    }
    while (n-- > 0) {
        *dst++ = *src;
        src += step;
    }
}

static inline void fill(int8_t *dst, int32_t n, int8_t v) {
    while (n-- > 0)
        *dst++ = v;
}

/* One pixel's window: channels [c0, c0 + cn) of each tap (cn is in_c or 1),
 * taps outside the image set to `pad`. Without horizontal dilation each row
 * is a pad run, one contiguous (conv, or depthwise over one channel) or
 * strided copy, and a pad run, the bounds found once per pixel; only
 * dilated rows are tested tap by tap. */
static void gather(const el_geom *g, const int8_t *xb, int32_t y0, int32_t x0, int32_t c0, int32_t cn,
                   int8_t pad, int8_t *col) {
    int32_t in_c = g->in_c, row = g->in_w * in_c;
    int32_t fw = g->filter_w, dw = g->dilation_w, fh = g->filter_h, dh = g->dilation_h;
    int32_t span = fw * cn, step = cn == in_c ? 1 : in_c, unit = cn == in_c ? cn : 1;
    const int8_t *xr = xb + y0 * row + c0;
    if (dw == 1) {
        int32_t lo = x0 < 0 ? -x0 : 0, hi = x0 + fw > g->in_w ? g->in_w - x0 : fw;
        if (hi < lo)
            hi = lo;
        int32_t left = lo * cn, mid = (hi - lo) * unit, right = (fw - hi) * cn;
        const int8_t *src = xr + (x0 + lo) * in_c;
        if (!left && !right && y0 >= 0 && y0 + (fh - 1) * dh < g->in_h) {
            for (int32_t fy = 0; fy < fh; fy++, col += span, src += dh * row)
                copy_strided(col, src, mid, step);
            return;
        }
        for (int32_t fy = 0, iy = y0; fy < fh; fy++, iy += dh, col += span, src += dh * row) {
            if (iy < 0 || iy >= g->in_h) {
                fill(col, span, pad);
                continue;
            }
            fill(col, left, pad);
            copy_strided(col + left, src, mid, step);
            fill(col + left + (hi - lo) * cn, right, pad);
        }
        return;
    }
    for (int32_t fy = 0; fy < fh; fy++, col += span, xr += dh * row) {
        int32_t iy = y0 + fy * dh;
        if (iy < 0 || iy >= g->in_h) {
            fill(col, span, pad);
            continue;
        }
        int8_t *c = col;
        for (int32_t fx = 0; fx < fw; fx++, c += cn) {
            int32_t ix = x0 + fx * dw;
            if (ix >= 0 && ix < g->in_w)
                copy_strided(c, xr + ix * in_c, cn, 1);
            else
                fill(c, cn, pad);
        }
    }
}

/* Conv with few input channels on a transposed row strip (as el_dw.c does
 * for depthwise). With one input channel a filter row is only filter_w bytes,
 * so the per-pixel gather (a copy per filter row) and, on ARMv6-M, the
 * column's widening cost more than the MACs (models/keyword's 10x8 first
 * layer: ~2,000 of ~3,600 instructions per pixel on ARMv6-M). Instead, per
 * output row, the filter_h input rows it reads are copied once, column by
 * column:
 *   strip[(j * fh + fy) * in_c + c] = x[iy0 + fy * dh, j - pad_w, c]
 * (the input zero point outside the image, as the gather pads). Without
 * horizontal dilation the window of output column ox is then the kp
 * consecutive elements from ox * stride_w * fh * in_c, provided the filters'
 * taps are reordered the same way, (fx, fy, c), once per call. So a pixel
 * needs no gather: one el_pw4_* call runs every block against the strip in
 * place (ARMv6-M: int32 strip and weights, w[4 t + r]; ARMv7E-M: int8 strip
 * read as words, unaligned, and the int16 pairs of widen_blocked; elsewhere
 * the same int32 layout in C). Rows past a multiple of 4 ride in a block of
 * zero weights (their sums are computed and dropped), and taps past k meet
 * zero weights, so the window may run 3 elements past the strip (kept 0). */
#if EL_WIDE
typedef int8_t strip_t;
#else
typedef int32_t strip_t;
#endif
/* more channels: the gather's row copies are long enough (on ARMv7E-M, whose
 * gather copies words, the strip gains only for one channel) */
#define EL_STRIP_MAX_C (EL_WIDE ? 1 : 4)
#define EL_STRIP_BYTES 8192     /* cap on the strip itself */

static int32_t strip_width(const el_geom *g) {
    return (g->out_w - 1) * g->stride_w + g->filter_w;
}

/* elements of the strip, 3 of slack included */
static int32_t strip_len(const el_geom *g) {
    return strip_width(g) * g->filter_h * g->in_c + 3;
}

/* the most rows whose laid-out weights fit EL_I32_BYTES (a multiple of 4; 0: the
 * geometry never takes the strip) */
static int32_t strip_rows(const el_geom *g) {
    if (g->dilation_w != 1 || g->in_c > EL_STRIP_MAX_C || g->out_w <= 0 || g->stride_w <= 0)
        return 0;
    int64_t k4 = round4(g->filter_h * g->filter_w * g->in_c);
    int64_t len = (int64_t)((g->out_w - 1) * (int64_t)g->stride_w + g->filter_w) * g->filter_h * g->in_c + 3;
    if ((int64_t)sizeof(strip_t) * len > EL_STRIP_BYTES || 4 * k4 > EL_I32_BYTES)
        return 0;
    return (EL_I32_BYTES / (4 * (int32_t)k4)) & ~3; /* int32: ARMv6-M's 64-bit division is a long call */
}

static int strip_ok(const el_geom *g, int32_t rows) {
    return rows <= strip_rows(g);
}

/* bytes of the laid-out weights of r4 rows: int32 taps, or on ARMv7E-M the
 * reordered int8 rows followed by their int16 pairs */
static int32_t strip_weight_bytes(int32_t k, int32_t r4) {
    return EL_WIDE ? round4(k * r4) + 2 * round4(k) * r4 : 4 * round4(k) * r4;
}

/* scratch: chan and acc for round4(rows) channels, the strip, the weights */
/* ARMv7E-M's strip takes el_pw2p_v7em (conv_strip) when two strips fit this */
#define EL_PAIR_STRIP_BYTES 1024

static int strip_pairs_geom(const el_geom *g) {
    return EL_WIDE && strip_len(g) <= EL_PAIR_STRIP_BYTES;
}

static int32_t strip_scratch_bytes(const el_geom *g, int32_t rows) {
    int32_t r4 = round4(rows), k = g->filter_h * g->filter_w * g->in_c;
    int32_t strip = round4((int32_t)sizeof(strip_t) * strip_len(g));
    /* two pixels per call: the stream's 20 bytes a row more, two pixels' pairs, a second strip */
    int32_t pairs = strip_pairs_geom(g) ? 20 * r4 + 4 * round4(k) + strip : 0;
    return r4 * (int32_t)(sizeof(el_chan) + 4) + strip + strip_weight_bytes(k, r4) + pairs;
}

/* Enough for any call of up to `rows` channels, whichever path it takes: the
 * board sizes one buffer for its largest group, and a smaller last group may
 * take the strip when the large one does not (so the figure never falls as
 * rows grow). */
int32_t el_conv_range_scratch_bytes(const el_geom *g, int32_t rows) {
    int32_t gather = el_conv_scratch_bytes(g->filter_h * g->filter_w * g->in_c, rows);
    int32_t sr = strip_rows(g);
    if (sr < 1)
        return gather;
    int32_t strip = strip_scratch_bytes(g, rows < sr ? rows : sr);
    return strip > gather ? strip : gather;
}

/* The filter_h input rows of one output row (top row iy0) into the strip. */
static void fill_strip(const el_geom *g, const int8_t *xb, int32_t iy0, int32_t pad, strip_t *s) {
    int32_t fh = g->filter_h, in_c = g->in_c, col = fh * in_c, w = strip_width(g);
    int32_t lo = g->pad_w < w ? g->pad_w : w, hi = g->pad_w + g->in_w < w ? g->pad_w + g->in_w : w;
    if (hi < lo)
        hi = lo;
    for (int32_t fy = 0; fy < fh; fy++) {
        int32_t iy = iy0 + fy * g->dilation_h;
        strip_t *o = s + fy * in_c;
        if (iy < 0 || iy >= g->in_h) {
            for (int32_t j = 0; j < w; j++, o += col)
                for (int32_t c = 0; c < in_c; c++)
                    o[c] = (strip_t)pad;
            continue;
        }
        const int8_t *xr = xb + (iy * g->in_w + lo - g->pad_w) * in_c;
        int32_t j = 0;
        for (; j < lo; j++, o += col)
            for (int32_t c = 0; c < in_c; c++)
                o[c] = (strip_t)pad;
        if (in_c == 1) {
            for (; j < hi; j++, o += col)
                *o = *xr++;
        } else {
            for (; j < hi; j++, o += col, xr += in_c)
                for (int32_t c = 0; c < in_c; c++)
                    o[c] = xr[c];
        }
        for (; j < w; j++, o += col)
            for (int32_t c = 0; c < in_c; c++)
                o[c] = (strip_t)pad;
    }
}

/* acc[4 b + r] = fold + the window x against block b's row r, for the n4 / 4 blocks
 * (el_pw4_*'s contract; kp taps, a multiple of 4) */
static void strip_dot(const strip_t *x, const void *w, int32_t kp, int32_t *acc, int32_t n4, const el_chan *chan) {
#if EL_I32
    el_pw4_v6m(x, (const int32_t *)w, kp, acc, n4, &chan->fold);
#elif EL_WIDE
    el_pw4_v7em(x, (const int16_t *)w, kp >> 2, acc, n4, &chan->fold);
#else
    const int32_t *wi = (const int32_t *)w;
    for (int32_t b = 0; b < n4; b += 4, wi += 4 * kp)
        for (int32_t r = 0; r < 4; r++) {
            uint32_t a = (uint32_t)chan[b + r].fold;
            for (int32_t t = 0; t < kp; t++)
                a += (uint32_t)(x[t] * wi[4 * t + r]);
            acc[b + r] = (int32_t)a;
        }
#endif
}

#if EL_WIDE
/* Two output pixels per el_pw2p_v7em call on the strip: consecutive pixels in raster
 * order, so an odd row's last pixel pairs with the next row's first, whose strip goes
 * to the other of two buffers (s, and one after the stream and the pixels' pairs).
 * wr8: the reordered rows, k bytes each. */
static void strip_pairs(const el_geom *g, const int8_t *x, int8_t *y, const el_requant *q, const el_chan *chan,
                        const int8_t *wr8, void *wb, strip_t *s, int32_t c0, int32_t cn) {
    int32_t fh = g->filter_h, in_c = g->in_c, k = fh * g->filter_w * in_c;
    int32_t *pairs = pair_stream(wr8, k, cn, chan, (int32_t *)wb);
    strip_t *st[2] = {s, (strip_t *)(pairs + round4(k))};
    int32_t len = strip_len(g), key[2] = {-1, -1}, pad = -q->input_offset, step = g->stride_w * fh * in_c;
    for (int32_t i = 0; i < 2; i++)
        st[i][len - 3] = st[i][len - 2] = st[i][len - 1] = 0; /* the 3 bytes of slack a window may read */
    int32_t total = g->batches * g->out_h * g->out_w, row = 0, ox = 0;
    const strip_t *xp[2];
    y += c0;
    for (int32_t p = 0; p < total; p += 2, y += 2 * g->out_c) {
        for (int32_t j = 0; j < 2 && p + j < total; j++) {
            /* row: batch * out_h + output row */
            int32_t i = row & 1;
            if (key[i] != row) {
                int32_t b = row / g->out_h, oy = row - b * g->out_h;
                fill_strip(g, x + b * g->in_h * g->in_w * in_c, oy * g->stride_h - g->pad_h, pad, st[i]);
                key[i] = row;
            }
            xp[j] = st[i] + ox * step;
            if (++ox == g->out_w) {
                ox = 0;
                row++;
            }
        }
        int last = p + 1 == total;
        el_pw2p_v7em(xp[0], last ? xp[0] : xp[1], round4(k) >> 2, y, (const int32_t *)wb, cn >> 1,
                     last ? 0 : g->out_c, pairs);
    }
}
#endif

/* noinline: inlined into el_conv_2d_s8_range it changed the register allocation of
 * the gather path's pixel loop (+4,400 instructions on DS-CNN's 1x1 layer on ARMv6-M) */
__attribute__((noinline)) static void conv_strip(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
                       void *scratch, int32_t c0, int32_t cn) {
    int32_t fh = g->filter_h, fw = g->filter_w, in_c = g->in_c, k = fh * fw * in_c, k4 = round4(k);
    int32_t r4 = round4(cn);
    el_chan *chan = (el_chan *)scratch;
    int32_t *acc = (int32_t *)(chan + r4);
    strip_t *s = (strip_t *)(acc + r4);
    void *wt = (int8_t *)s + round4((int32_t)sizeof(strip_t) * strip_len(g));
    int slow = 0;
    for (int32_t c = 0; c < r4; c++) {
        if (c < cn) {
            slow |= prep(chan + c, q, w + c * k, k, c0 + c);
        } else {
            chan[c] = chan[0];
            chan[c].fold = 0;
        }
    }
    /* the taps reordered to t' = (fx * fh + fy) * in_c + ci; rows past cn zero */
#if EL_WIDE
    int8_t *wr8 = (int8_t *)wt;
    void *wb = wr8 + round4(k * r4);
    for (int32_t r = 0; r < r4; r++) {
        int8_t *o = wr8 + r * k;
        const int8_t *wr = w + r * k;
        for (int32_t fx = 0; fx < fw; fx++)
            for (int32_t fy = 0; fy < fh; fy++)
                for (int32_t ci = 0; ci < in_c; ci++)
                    *o++ = r < cn ? wr[(fy * fw + fx) * in_c + ci] : 0;
    }
#if EL_WIDE
    if (!slow && !(cn & 1) && strip_pairs_geom(g)) {
        strip_pairs(g, x, y, q, chan, wr8, wb, s, c0, cn);
        return;
    }
#endif
    widen_blocked(wr8, k, r4, wb);
#else
    void *wb = wt;
    for (int32_t r = 0; r < r4; r++) {
        int32_t *o = (int32_t *)wt + (r >> 2) * 4 * k4 + (r & 3);
        const int8_t *wr = w + r * k;
        for (int32_t fx = 0; fx < fw; fx++)
            for (int32_t fy = 0; fy < fh; fy++)
                for (int32_t ci = 0; ci < in_c; ci++, o += 4)
                    *o = r < cn ? wr[(fy * fw + fx) * in_c + ci] : 0;
        for (int32_t t = k; t < k4; t++, o += 4)
            *o = 0;
    }
#endif
    strip_t *tail = s + strip_len(g) - 3;
    tail[0] = tail[1] = tail[2] = 0;
    int32_t pad = -q->input_offset, step = g->stride_w * fh * in_c;
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * g->in_h * g->in_w * in_c;
        int8_t *yp = y + b * g->out_h * g->out_w * g->out_c + c0;
        for (int32_t oy = 0; oy < g->out_h; oy++) {
            fill_strip(g, xb, oy * g->stride_h - g->pad_h, pad, s);
            const strip_t *xs = s;
            for (int32_t ox = 0; ox < g->out_w; ox++, yp += g->out_c, xs += step) {
                strip_dot(xs, wb, k4, acc, r4, chan);
                requant(acc, chan, cn, slow, q, yp);
            }
        }
    }
}

int32_t el_conv_2d_scratch_size(const el_geom *g) {
    return el_conv_range_scratch_bytes(g, g->out_c);
}

void el_conv_2d_s8(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                   const el_requant *q, void *scratch) {
    el_conv_2d_s8_range(g, x, w, y, q, scratch, 0, g->out_c);
}

void el_conv_2d_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                         const el_requant *q, void *scratch, int32_t c0, int32_t cn) {
    if (strip_ok(g, cn)) {
        conv_strip(g, x, w, y, q, scratch, c0, cn);
        return;
    }
    int32_t k = g->filter_h * g->filter_w * g->in_c;
    int8_t *col = (int8_t *)scratch;
    el_chan *chan = (el_chan *)(col + round4(k));
    int32_t *acc = (int32_t *)(chan + cn);
    int32_t nb = blocked_rows(k, cn);
    void *wb = acc + cn;
    int slow = 0;
#if EL_WIDE
    /* the channels first: whether every one takes the short requantization picks the path */
    for (int32_t c = 0; c < cn; c++)
        slow |= prep(chan + c, q, w + c * k, k, c0 + c);
    if (!slow && pairs_ok(g, k, cn)) {
        conv_pairs(g, x, w, y, wb, chan, k, c0, cn);
        return;
    }
    if (nb)
        widen_blocked(w, k, nb, wb);
#else
    if (nb)
        widen_blocked(w, k, nb, wb);
    for (int32_t c = 0; c < cn; c++)
        slow |= prep(chan + c, q, w + c * k, k, c0 + c);
#endif
    int8_t pad = (int8_t)(-q->input_offset);
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * g->in_h * g->in_w * g->in_c;
        int8_t *yp = y + b * g->out_h * g->out_w * g->out_c + c0;
        for (int32_t oy = 0; oy < g->out_h; oy++)
            for (int32_t ox = 0; ox < g->out_w; ox++, yp += g->out_c) {
                int32_t iy = oy * g->stride_h - g->pad_h, ix = ox * g->stride_w - g->pad_w;
                if (nb == cn && k == g->in_c && (EL_I32 || !(k & 3)) && iy >= 0 && iy < g->in_h && ix >= 0 &&
                    ix < g->in_w) {
                    /* a 1x1 window inside the image is the pixel itself: no gather */
                    blocked(xb + (iy * g->in_w + ix) * k, wb, k, nb, chan, acc);
                } else {
                    gather(g, xb, iy, ix, 0, g->in_c, pad, col);
                    if (nb)
                        blocked(col, wb, k, nb, chan, acc);
                    rows(col, w + nb * k, 0, k, cn - nb, chan + nb, acc + nb);
                }
                requant(acc, chan, cn, slow, q, yp);
            }
    }
}

int32_t el_depthwise_scratch_bytes(const el_geom *g, int32_t in) {
    if (g->depth_multiplier == 1)
        return el_dw1_scratch(g, in);
    if (el_dw_strip_ok(g))
        return el_dw_strip_scratch(g);
    return gather_scratch_bytes(g->filter_h * g->filter_w, in * g->depth_multiplier);
}

int32_t el_depthwise_conv_2d_scratch_size(const el_geom *g) {
    return el_depthwise_scratch_bytes(g, g->in_c);
}

void el_depthwise_conv_2d_s8(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                             const el_requant *q, void *scratch) {
    el_depthwise_conv_2d_s8_range(g, x, w, y, q, scratch, 0, g->in_c);
}

void el_depthwise_conv_2d_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                                   const el_requant *q, void *scratch, int32_t i0, int32_t in) {
    if (g->depth_multiplier == 1) {
        el_dw1(g, x, w, y, q, scratch, i0, in);
        return;
    }
    if (el_dw_strip_ok(g)) {
        el_dw_strip(g, x, w, y, q, scratch, i0, in);
        return;
    }
    int32_t k = g->filter_h * g->filter_w;
    int32_t dm = g->depth_multiplier, n = in * dm;
    int8_t *col = (int8_t *)scratch;
    el_chan *chan = (el_chan *)(col + round4(k));
    int32_t *acc = (int32_t *)(chan + n);
    /* each input channel's first dm & ~3 filters go four at a time */
    int16_t *w16 = EL_WIDE && dm >= 4 ? (int16_t *)(acc + n) : 0;
    int32_t wrow = round4(k) * (dm & ~3); /* int16 elements per input channel */
    for (int32_t ci = 0; w16 && ci < in; ci++)
        widen(w + ci * dm * k, k, dm & ~3, w16 + ci * wrow);
    int slow = 0;
    for (int32_t c = 0; c < n; c++)
        slow |= prep(chan + c, q, w + c * k, k, i0 * dm + c);
    int8_t pad = (int8_t)(-q->input_offset);
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * g->in_h * g->in_w * g->in_c;
        int8_t *yp = y + b * g->out_h * g->out_w * g->out_c + i0 * dm;
        for (int32_t oy = 0; oy < g->out_h; oy++)
            for (int32_t ox = 0; ox < g->out_w; ox++, yp += g->out_c) {
                for (int32_t ci = 0; ci < in; ci++) {
                    gather(g, xb, oy * g->stride_h - g->pad_h, ox * g->stride_w - g->pad_w, i0 + ci, 1, pad, col);
                    rows(col, w + ci * dm * k, w16 ? w16 + ci * wrow : 0, k, dm, chan + ci * dm, acc + ci * dm);
                }
                requant(acc, chan, n, slow, q, yp);
            }
    }
}
