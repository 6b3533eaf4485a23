/* DEPTHWISE_CONV_2D on a transposed row strip (micro_speech's layer:
 * one input channel, depth multiplier 8, 10x8 filter, stride 2).
 *
 * Why a strip instead of el_ops.c's per-pixel gather: with one input channel
 * the gather moved 80 bytes for 640 MACs and had to test the padding of every
 * window (36% of micro_speech's pixels touch it). Here each output row's
 * input is copied once, column by column: strip[j * fh2 + fy] is input
 * column j - pad_w of window row fy, plus the input offset, 0 outside the
 * image. A window is then fw consecutive columns, i.e. kp consecutive
 * elements starting at ox * stride_w * fh2, and needs no copy at all.
 *
 * Storing x + input_offset (TFLM's own operand) instead of x means padded
 * taps are exact zeros and the bias needs no folding; int8 + offset fits
 * int16. Per target:
 * - ARMv6-M: strip and weights as int32, weights of 4 rows interleaved per
 *   tap, so one LDM brings two taps of x and one LDM four rows' weights;
 *   per MAC a MULS and an ADD plus 3/8 of a load (el_dw4_v6m.S, 2.5/MAC).
 * - ARMv7E-M: int16, so a word holds two taps and one SMLAD does two MACs;
 *   a column is padded to an even height (a zero weight row) so every window
 *   starts on a word (LDRD), and 4-tap blocks of 4 rows interleave
 *   (el_dw4_v7em.S, 0.69/MAC).
 * - elsewhere: int32 and a C loop.
 * The tail of a window (kp is rounded to 4 taps) meets zero weights.
 */
#include "el_internal.h"

#if defined(__ARM_ARCH_6M__) && !defined(EL_PORTABLE)
typedef int32_t el_xt;
#define FH_EVEN 0
#define BLOCKS 0
void el_dw4_v6m(const int32_t *x, const int32_t *w, int32_t kp, int32_t *acc);
#define DOT4 el_dw4_v6m
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
typedef int16_t el_xt;
#define FH_EVEN 1
#define BLOCKS 1
void el_dw4_v7em(const int16_t *x, const int16_t *w, int32_t kp, int32_t *acc);
#define DOT4 el_dw4_v7em
#else
typedef int32_t el_xt;
#define FH_EVEN 0
#define BLOCKS 0
#define DOT4 dot4_c
static void dot4_c(const int32_t *x, const int32_t *w, int32_t kp, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t t = 0; t < kp; t++, w += 4) {
        int32_t v = x[t];
        a0 += v * w[0]; a1 += v * w[1]; a2 += v * w[2]; a3 += v * w[3];
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}
#endif
typedef el_xt el_wt; /* weights take the strip's element type */

/* weight of tap t, row r (of 4) inside one 4-row group */
#if BLOCKS
#define WIDX(t, r) (((t) >> 2) * 16 + (r) * 4 + ((t) & 3))
#else
#define WIDX(t, r) ((t) * 4 + (r))
#endif

typedef struct {
    int32_t fh2;   /* elements per strip column: filter_h, made even on ARMv7E-M */
    int32_t kp;    /* taps per window, fw * fh2 rounded up to 4 */
    int32_t cols;  /* strip columns: the padded input columns the row's windows cover */
    int32_t n;     /* strip elements: the last window reads kp from its start */
} dw_shape;

static void shape(const el_geom *g, dw_shape *s) {
    s->fh2 = FH_EVEN ? (g->filter_h + 1) & ~1 : g->filter_h;
    s->kp = (g->filter_w * s->fh2 + 3) & ~3;
    s->cols = (g->out_w - 1) * g->stride_w + g->filter_w;
    s->n = s->cols * s->fh2 + s->kp - g->filter_w * s->fh2;
}

int el_dw_strip_ok(const el_geom *g) {
    return g->depth_multiplier > 0 && (g->depth_multiplier & 3) == 0 && g->dilation_w == 1 &&
           g->out_w > 0 && g->stride_w > 0;
}

int32_t el_dw_strip_scratch(const el_geom *g) {
    dw_shape s;
    shape(g, &s);
    int32_t dm = g->depth_multiplier;
    return dm * s.kp * (int32_t)sizeof(el_wt) + ((s.n * (int32_t)sizeof(el_xt) + 3) & ~3) +
           dm * (int32_t)(sizeof(el_chan) + 4);
}

/* one input channel's dm filters ([dm, fh, fw]) into the dot's layout */
static void weights(const el_geom *g, const dw_shape *s, const int8_t *w, el_wt *o) {
    int32_t fh = g->filter_h, fw = g->filter_w, k = fh * fw, dm = g->depth_multiplier;
    for (int32_t i = 0; i < dm * s->kp; i++)
        o[i] = 0;
    for (int32_t r = 0; r < dm; r++, w += k) {
        el_wt *og = o + (r >> 2) * 4 * s->kp;
        for (int32_t fy = 0; fy < fh; fy++)
            for (int32_t fx = 0; fx < fw; fx++)
                og[WIDX(fx * s->fh2 + fy, r & 3)] = w[fy * fw + fx];
    }
}

/* The strip of the output row whose windows start at input row y0, from
 * xc = the channel's first input element (step in_c between columns). */
static void strip_row(const el_geom *g, const dw_shape *s, const int8_t *xc, int32_t y0, int32_t off,
                      el_xt *st) {
    int32_t fh2 = s->fh2, cols = s->cols, in_c = g->in_c;
    int32_t lo = g->pad_w < cols ? g->pad_w : cols;
    int32_t hi = g->pad_w + g->in_w < cols ? g->pad_w + g->in_w : cols;
    if (lo < 0)
        lo = 0;
    for (int32_t fy = 0, iy = y0; fy < fh2; fy++, iy += g->dilation_h) {
        el_xt *d = st + fy;
        int32_t j = 0;
        if (fy < g->filter_h && iy >= 0 && iy < g->in_h) {
            for (; j < lo; j++, d += fh2)
                *d = 0;
            const int8_t *src = xc + (iy * g->in_w + lo - g->pad_w) * in_c;
            for (; j < hi; j++, d += fh2, src += in_c)
                *d = (el_xt)(*src + off);
        }
        for (; j < cols; j++, d += fh2)
            *d = 0;
    }
}

void el_dw_strip(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
                 void *scratch, int32_t i0, int32_t in) {
    dw_shape s;
    shape(g, &s);
    int32_t dm = g->depth_multiplier, k = g->filter_h * g->filter_w, groups = dm >> 2;
    el_wt *wp = (el_wt *)scratch;
    el_xt *st = (el_xt *)(wp + dm * s.kp);
    el_chan *chan = (el_chan *)((int8_t *)st + ((s.n * (int32_t)sizeof(el_xt) + 3) & ~3));
    int32_t *acc = (int32_t *)(chan + dm);
    el_requant q0 = *q;
    q0.input_offset = 0; /* the strip holds x + input_offset: the bias stays as it is */
    for (int32_t i = s.cols * s.fh2; i < s.n; i++)
        st[i] = 0;
    int32_t step = g->stride_w * s.fh2, out_c = g->out_c;
    for (int32_t ci = 0; ci < in; ci++) {
        int32_t c = i0 + ci;
        const int8_t *wc = w + ci * dm * k;
        weights(g, &s, wc, wp);
        int slow = 0;
        for (int32_t r = 0; r < dm; r++)
            slow |= el_prep_chan(chan + r, &q0, wc + r * k, k, c * dm + r);
        for (int32_t b = 0; b < g->batches; b++) {
            const int8_t *xc = x + b * g->in_h * g->in_w * g->in_c + c;
            int8_t *yp = y + b * g->out_h * g->out_w * out_c + c * dm;
            for (int32_t oy = 0; oy < g->out_h; oy++) {
                strip_row(g, &s, xc, oy * g->stride_h - g->pad_h, q->input_offset, st);
                const el_xt *xw = st;
                for (int32_t ox = 0; ox < g->out_w; ox++, xw += step, yp += out_c) {
                    for (int32_t G = 0; G < groups; G++) {
                        int32_t *a = acc + 4 * G;
                        const el_chan *ch = chan + 4 * G;
                        a[0] = ch[0].fold; a[1] = ch[1].fold; a[2] = ch[2].fold; a[3] = ch[3].fold;
                        DOT4(xw, wp + G * 4 * s.kp, s.kp, a);
                    }
                    el_requant_out(acc, chan, dm, slow, q, yp);
                }
            }
        }
    }
}
