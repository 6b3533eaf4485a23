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

int32_t el_dw1_scratch(const el_geom *g, int32_t in) {
    int32_t k = g->filter_h * g->filter_w;
    return (WPAIRS ? 2 : 4) * k * (in & ~3) + round8(round4(in)) + (int32_t)(sizeof(void *) + 4) * k +
           (int32_t)(sizeof(el_chan) + 8) * in;
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

void el_dw1(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
            void *scratch, int32_t i0, int32_t in) {
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
