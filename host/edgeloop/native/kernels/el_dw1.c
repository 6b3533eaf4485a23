/* DEPTHWISE_CONV_2D with depth multiplier 1 (DS-CNN's and MobileNet's layers),
 * channels innermost.
 *
 * Why not el_ops.c's gather: it copied one channel's window (9 bytes, strided
 * by in_c) into a column per channel per pixel and called a dot product of 9,
 * so the copy, the call and the 1..3 left-over taps of each dot cost ~50
 * instructions per MAC on ARMv6-M. With multiplier 1 neighbouring channels
 * are independent dot products over the same taps, and NHWC puts them next to
 * each other: for a block of 4 channels, each tap is 4 contiguous input bytes
 * against 4 contiguous weights, with the 4 sums held in registers across the
 * window.
 *
 * Per output pixel the window's k tap addresses are computed once (the pixel
 * of each tap plus i0); a tap outside the image points at a row of the input
 * zero point instead, so with the input offset folded into the bias (as in
 * el_ops.c) it adds exactly 0 and no tap is tested in the inner loop. This
 * handles padding, any stride and dilation the same way.
 *
 * Weights are rearranged once per call, tap-major per block of 4 channels:
 * - ARMv6-M: int32 [block][tap][4], one LDM per tap, no sign extension; the
 *   input bytes need LDRB + SXTB (LDRSB has no immediate offset): 19
 *   instructions per 4 MACs plus the loop's share (el_dw1_v6m.S).
 * - ARMv7E-M: int16 pairs (w0, w2), (w1, w3) per tap, matching SXTB16 of one
 *   unaligned word of input; SMLABB/SMLATT per channel: 10 per 4 MACs
 *   (el_dw1_v7em.S).
 * - elsewhere: the int32 layout and a C loop.
 * Both loops run all whole blocks of one pixel per call; channels past the
 * last whole block (in % 4) go one at a time in C from the file's weights.
 *
 * Scratch (el_dw1_scratch): weights 16 * k bytes per 4 channels (8 * k on
 * ARMv7E-M), the zero-point row, k tap pointers and k tap offsets (a window
 * inside the image, the common case, is its origin plus fixed offsets), and per channel its constants, folded bias
 * and sum.
 */
#include "el_internal.h"
#include <stddef.h>
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
#include <arm_acle.h>
#endif

/* what the per-pixel loops read (the assembly's offsets: 0, 4, 8, 12, 16, 20) */
typedef struct {
    const int8_t *const *xp;   /* the pixel's k tap addresses, channel i0 of each */
    const int8_t *const *end;  /* xp + k */
    const void *w;             /* rearranged weights, block after block */
    const int32_t *fold;       /* per channel: bias + input_offset * sum(w) */
    int32_t *acc;              /* per channel: the sums out */
    int32_t n4;                /* channels in whole blocks of 4 */
} el_dw1_run;

#if defined(__ARM_ARCH_6M__) && !defined(EL_PORTABLE)
#define WPAIRS 0
void el_dw1_v6m(const el_dw1_run *r);
#define RUN el_dw1_v6m
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
#define WPAIRS 1
void el_dw1_v7em(const el_dw1_run *r);
#define RUN el_dw1_v7em
#else
#define WPAIRS 0
#define RUN run_c
static void run_c(const el_dw1_run *r) {
    const int32_t *w = (const int32_t *)r->w;
    for (int32_t c = 0; c < r->n4; c += 4) {
        int32_t a0 = r->fold[c], a1 = r->fold[c + 1], a2 = r->fold[c + 2], a3 = r->fold[c + 3];
        for (const int8_t *const *xp = r->xp; xp != r->end; xp++, w += 4) {
            const int8_t *s = *xp + c;
            a0 += s[0] * w[0];
            a1 += s[1] * w[1];
            a2 += s[2] * w[2];
            a3 += s[3] * w[3];
        }
        r->acc[c] = a0; r->acc[c + 1] = a1; r->acc[c + 2] = a2; r->acc[c + 3] = a3;
    }
}
#endif

static inline int32_t round4(int32_t n) {
    return (n + 3) & ~3;
}

static inline int32_t round8(int32_t n) {
    return (n + 7) & ~7;
}

static int32_t dw1_scratch(const el_geom *g, int32_t in) {
    int32_t k = g->filter_h * g->filter_w;
    return (WPAIRS ? 2 : 4) * k * (in & ~3) + round8(round4(in)) + (int32_t)(sizeof(void *) + 4) * k +
           (int32_t)(sizeof(el_chan) + 8) * in;
}

#if WPAIRS
/* 3x3, stride 1 down the rows, no dilation (el_dw3_v7em.S): one channel per
 * call over every output pixel, the 3x3 weights in registers.
 *
 * Why: el_dw1_v7em.S runs one pixel per call, 4 channels, one MAC per
 * multiply (SMLABB/SMLATT: the SXTB16 halves of an input word are two
 * channels, which SMLAD cannot add together), and the pixel's generic
 * requantization (~26 instructions per output) is ~3 per MAC of a 3x3 window.
 * Here each channel's input is first copied once into a plane of int16 pairs
 * of vertically neighbouring pixels (x[2i][j], x[2i+1][j]) with the padding
 * as the input zero point, so SMLAD multiplies two taps of one output; two
 * output rows share the loaded words (12 multiplies and 2 LDM per 18 MACs);
 * and the requantization is 5 instructions per output (el_dw3_v7em.S says
 * why it is exact) for the channels it admits: right shift 1..22, multiplier
 * >= 2^30, the folded bias small enough that 2 (bias + sum) cannot wrap, and
 * the activation range [-128, 127]. Anything else takes dw1_generic. */
typedef struct {
    const int32_t *plane;  /* 0: this channel's plane */
    int32_t S;             /* 4: bytes between rows of words */
    int32_t colstep;       /* 8: plane bytes per output column (4 * stride_w) */
    int8_t *out;           /* 12: output pixel (0, 0) of the channel */
    int32_t ostride;       /* 16: output bytes per row */
    int32_t ocstep;        /* 20: output bytes per column (out_c) */
    int32_t out_w;         /* 24 */
    int32_t n2;            /* 28: out_h / 2 */
    int32_t odd;           /* 32: out_h & 1 */
    int32_t w[6];          /* 36: (w0, w1), (w1, w2) of filter columns 0, 1, 2, doubled */
    int32_t m, c, e, bias; /* 60: multiplier, 2^(e-1) + offset 2^e, right shift, 2 * folded bias */
} el_dw3_run;
_Static_assert(offsetof(el_dw3_run, w) == 36 && offsetof(el_dw3_run, bias) == 72, "el_dw3_v7em.S's offsets");
void el_dw3_v7em(const el_dw3_run *r);

typedef uint32_t u32_unaligned __attribute__((aligned(1), may_alias));

/* words of one channel's plane: rows of pairs (out_h + 2 rows, even) by the columns read */
static int32_t dw3_plane_words(const el_geom *g) {
    return ((g->out_h + 3) >> 1) * ((g->out_w - 1) * g->stride_w + 3);
}

/* the 4 planes are capped like ARMv6-M's int32 conv weights (el_ops.c): a larger
 * image (VWW's 48x48 layers: 20 KB) keeps the generic loop's small scratch */
#define EL_DW3_BYTES 16384

static int dw3_geom(const el_geom *g) {
    return g->filter_h == 3 && g->filter_w == 3 && g->stride_h == 1 && g->dilation_h == 1 && g->dilation_w == 1 &&
           g->stride_w >= 1 && g->out_h > 0 && g->out_w > 0 && 16 * dw3_plane_words(g) <= EL_DW3_BYTES;
}

/* 1 when every channel of the call fits the exact short requantization;
 * their constants are left in chan */
static int dw3_chans(const el_requant *q, const int8_t *w, int32_t i0, int32_t n4, el_chan *chan) {
    if (q->act_min != -128 || q->act_max != 127)
        return 0;
    for (int32_t c = 0; c < n4; c++) {
        el_chan *ch = chan + c;
        el_prep_chan(ch, q, w + c * 9, 9, i0 + c);
        if (ch->lshift || ch->rshift < 1 || ch->rshift > 22 || ch->mult < 0x40000000 ||
            ch->fold > (1 << 29) - 9 * 16384 || ch->fold < -(1 << 29) + 9 * 16384)
            return 0;
    }
    return 1;
}

static inline uint32_t lo16(uint32_t a) {
    return a & 0xffffu;
}

typedef struct {
    const int8_t *a, *b;   /* 0: rows 2i and 2i + 1 at the first inside column (or a word of zero points) */
    int32_t step_a, step_b;/* 8: bytes to the next column (in_c, or 0 on a row of padding) */
    int32_t n;             /* 16: inside columns */
    int32_t *plane;        /* 20: word (i, first inside column) of channel 0's plane */
    int32_t plane_bytes;   /* 24: bytes between the 4 channels' planes */
    int32_t pairs;         /* 28: rows of words */
    int32_t adv;           /* 32: input bytes from row 2i to 2i + 2 */
    int32_t pstride;       /* 36: plane bytes per row of words */
} el_dw3_pack;
_Static_assert(offsetof(el_dw3_pack, pstride) == 36, "el_dw3_v7em.S's offsets");
void el_dw3_pack_v7em(const el_dw3_pack *k);

static void dw3(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
                void *scratch, const el_chan *chan, int32_t i0, int32_t n4) {
    const int32_t in_h = g->in_h, in_w = g->in_w, in_c = g->in_c, row = in_w * in_c;
    const int32_t pad_h = g->pad_h;
    const int32_t cols = (g->out_w - 1) * g->stride_w + 3, pairs = (g->out_h + 3) >> 1, pw = pairs * cols;
    /* plane columns j - pad_w inside the image: jlo .. jhi - 1 */
    int32_t jlo = g->pad_w < 0 ? 0 : g->pad_w > cols ? cols : g->pad_w;
    int32_t jhi = g->pad_w + in_w < jlo ? jlo : g->pad_w + in_w > cols ? cols : g->pad_w + in_w;
    int32_t *plane = (int32_t *)scratch;
    uint32_t zp4 = (uint32_t)(uint8_t)(int8_t)(-q->input_offset) * 0x01010101u;
    int32_t zz = (int32_t)(lo16((uint32_t)-q->input_offset) | ((uint32_t)-q->input_offset << 16));
    /* what no channel changes: every word of the 4 planes starts as two zero points; the
     * packing below rewrites the inside columns of the rows of words that touch the image */
    for (int32_t i = 0; i < 4 * pw; i++)
        plane[i] = zz;
    /* rows of words with both rows inside the image: i_lo .. i_hi - 1 */
    int32_t i_lo = (pad_h + 1) >> 1, i_hi = (in_h + pad_h) >> 1;
    i_hi = i_hi > pairs ? pairs : i_hi;
    el_dw3_run r;
    el_dw3_pack k;
    r.S = cols * 4;
    r.colstep = g->stride_w * 4;
    r.ostride = g->out_w * g->out_c;
    r.ocstep = g->out_c;
    r.out_w = g->out_w;
    r.n2 = g->out_h >> 1;
    r.odd = g->out_h & 1;
    k.n = jhi - jlo;
    k.plane_bytes = pw * 4;
    k.adv = 2 * row;
    k.pstride = cols * 4;
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * in_h * row + i0 + (jlo - g->pad_w) * in_c;
        int8_t *yb = y + b * g->out_h * g->out_w * g->out_c + i0;
        for (int32_t cb = 0; cb < n4; cb += 4) {
            /* the 4 channels' planes in one pass: whole rows of words in one call, rows of
             * words half in the padding one at a time */
            for (int32_t i = 0; i < pairs && k.n > 0;) {
                int32_t r0 = 2 * i - pad_h;
                int ina = r0 >= 0 && r0 < in_h, inb = r0 + 1 >= 0 && r0 + 1 < in_h;
                k.a = ina ? xb + r0 * row + cb : (const int8_t *)&zp4;
                k.b = inb ? xb + (r0 + 1) * row + cb : (const int8_t *)&zp4;
                k.step_a = ina ? in_c : 0;
                k.step_b = inb ? in_c : 0;
                k.plane = plane + i * cols + jlo;
                k.pairs = i >= i_lo && i < i_hi ? i_hi - i : 1;
                if (ina || inb)
                    el_dw3_pack_v7em(&k);
                i += k.pairs;
            }
            for (int32_t j = 0; j < 4; j++) {
                int32_t c = cb + j;
                const int8_t *wc = w + c * 9;
                const el_chan *ch = chan + c;
                for (int32_t f = 0; f < 3; f++) {
                    r.w[2 * f] = (int32_t)(lo16((uint32_t)(2 * wc[f])) | ((uint32_t)(2 * wc[3 + f]) << 16));
                    r.w[2 * f + 1] = (int32_t)(lo16((uint32_t)(2 * wc[3 + f])) | ((uint32_t)(2 * wc[6 + f]) << 16));
                }
                r.m = ch->mult;
                r.e = ch->rshift;
                r.c = (1 << (ch->rshift - 1)) + q->output_offset * (1 << ch->rshift);
                r.bias = 2 * ch->fold;
                r.plane = plane + j * pw;
                r.out = yb + c;
                el_dw3_v7em(&r);
            }
        }
    }
}
#endif

int32_t el_dw1_scratch(const el_geom *g, int32_t in) {
    int32_t s = dw1_scratch(g, in);
#if WPAIRS
    if (dw3_geom(g) && in >= 4) {
        int32_t s3 = 16 * dw3_plane_words(g) + (int32_t)sizeof(el_chan) * (in & ~3), s1 = dw1_scratch(g, in & 3);
        s3 = s3 > s1 ? s3 : s1;
        s = s3 > s ? s3 : s;
    }
#endif
    return s;
}

/* w ([in][k], a channel's taps contiguous) into the loop's layout, whole blocks only */
static void rearrange(const int8_t *w, int32_t k, int32_t n4, void *out) {
    for (int32_t c = 0; c < n4; c++) {
        const int8_t *wc = w + c * k;
        int32_t base = (c >> 2) * k * 4, j = c & 3;
        for (int32_t t = 0; t < k; t++) {
#if WPAIRS
            /* halves of a tap: w0 w2 w1 w3 */
            ((int16_t *)out)[base + 4 * t + ((j & 1) << 1) + (j >> 1)] = wc[t];
#else
            ((int32_t *)out)[base + 4 * t + j] = wc[t];
#endif
        }
    }
}

#if WPAIRS
static void dw1_generic(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
                        void *scratch, int32_t i0, int32_t in) {
#else
void el_dw1(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
            void *scratch, int32_t i0, int32_t in) {
#endif
    int32_t fh = g->filter_h, fw = g->filter_w, k = fh * fw, n4 = in & ~3;
    int32_t in_c = g->in_c, row = g->in_w * in_c;
    int8_t *wt = (int8_t *)scratch;
    int8_t *padrow = wt + (WPAIRS ? 2 : 4) * k * n4;
    const int8_t **xp = (const int8_t **)(padrow + round8(round4(in))); /* pointer aligned on 64-bit hosts */
    int32_t *toff = (int32_t *)(xp + k);
    el_chan *chan = (el_chan *)(toff + k);
    int32_t *fold = (int32_t *)(chan + in);
    int32_t *acc = fold + in;

    rearrange(w, k, n4, wt);
    int8_t pad = (int8_t)(-q->input_offset);
    for (int32_t c = 0; c < in; c++)
        padrow[c] = pad;
    int slow = 0;
    for (int32_t c = 0; c < in; c++) {
        slow |= el_prep_chan(chan + c, q, w + c * k, k, i0 + c);
        fold[c] = chan[c].fold;
    }
    el_dw1_run run = {xp, xp + k, wt, fold, acc, n4};

    /* locals: the stores through xp would otherwise make the compiler reload g */
    const int32_t in_h = g->in_h, in_w = g->in_w, out_h = g->out_h, out_w = g->out_w, out_c = g->out_c;
    const int32_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const int32_t pad_h = g->pad_h, pad_w = g->pad_w;
    /* a window inside the image: tap t at its origin + toff[t] */
    for (int32_t fy = 0, t = 0; fy < fh; fy++)
        for (int32_t fx = 0; fx < fw; fx++, t++)
            toff[t] = fy * dh * row + fx * dw * in_c;
    const int32_t span_h = (fh - 1) * dh, span_w = (fw - 1) * dw;

    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * in_h * row + i0;
        int8_t *yp = y + b * out_h * out_w * out_c + i0;
        for (int32_t oy = 0; oy < out_h; oy++) {
            int32_t y0 = oy * sh - pad_h;
            int rows_in = y0 >= 0 && y0 + span_h < in_h;
            for (int32_t ox = 0; ox < out_w; ox++, yp += out_c) {
                int32_t x0 = ox * sw - pad_w;
                const int8_t **p = xp;
                if (rows_in && x0 >= 0 && x0 + span_w < in_w) {
                    const int8_t *o = xb + y0 * row + x0 * in_c;
                    for (int32_t t = 0; t < k; t++)
                        p[t] = o + toff[t];
                } else {
                    for (int32_t fy = 0, iy = y0; fy < fh; fy++, iy += dh) {
                        if (iy < 0 || iy >= in_h) {
                            for (int32_t fx = 0; fx < fw; fx++)
                                *p++ = padrow;
                            continue;
                        }
                        const int8_t *r = xb + iy * row;
                        for (int32_t fx = 0, ix = x0; fx < fw; fx++, ix += dw)
                            *p++ = ix >= 0 && ix < in_w ? r + ix * in_c : padrow;
                    }
                }
                if (n4)
                    RUN(&run);
                for (int32_t c = n4; c < in; c++) {
                    const int8_t *wc = w + c * k;
                    int32_t a = fold[c];
                    for (int32_t t = 0; t < k; t++)
                        a += xp[t][c] * wc[t];
                    acc[c] = a;
                }
                el_requant_out(acc, chan, in, slow, q, yp);
            }
        }
    }
}

#if WPAIRS
void el_dw1(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
            void *scratch, int32_t i0, int32_t in) {
    int32_t n4 = in & ~3;
    if (n4 && dw3_geom(g)) {
        el_chan *chan = (el_chan *)((int32_t *)scratch + 4 * dw3_plane_words(g));
        if (dw3_chans(q, w, i0, n4, chan)) {
            dw3(g, x, w, y, q, scratch, chan, i0, n4);
            if (in > n4)
                dw1_generic(g, x, w + n4 * 9, y, q, scratch, i0 + n4, in - n4);
            return;
        }
    }
    dw1_generic(g, x, w, y, q, scratch, i0, in);
}
#endif
