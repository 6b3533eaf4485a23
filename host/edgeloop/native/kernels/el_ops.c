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
 */
#include "el_kernels.h"

#define INT32_MIN_ (-2147483647 - 1)

static inline int32_t srdhm(int32_t a, int32_t b) {
    /* gemmlowp: (ab + nudge) / 2**31 truncated, nudge = 2**30 or 1 - 2**30 by
     * the sign of ab. For ab < 0 truncation is floor((ab + 1 - 2**30 + 2**31 - 1)
     * / 2**31), so both signs are floor((ab + 2**30) / 2**31): one arithmetic
     * shift, no branch (the int64 >> of gcc is arithmetic). */
    if (a == b && a == INT32_MIN_)
        return 2147483647;
    return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

static inline int32_t rdbpot(int32_t x, int32_t e) {
    int32_t mask = (int32_t)((1u << e) - 1u);
    int32_t rem = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > threshold ? 1 : 0);
}

static inline int32_t mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    if (shift > 0)
        return srdhm((int32_t)((uint32_t)x << shift), multiplier);
    return rdbpot(srdhm(x, multiplier), -shift);
}

int32_t el_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    return mbqm(x, multiplier, shift);
}

static inline int8_t finish(int32_t acc, const el_requant *q, int32_t c) {
    int32_t s = c * q->stride;
    int32_t v = mbqm(acc, q->multiplier[s], q->shift[s]) + q->output_offset;
    if (v < q->act_min)
        v = q->act_min;
    if (v > q->act_max)
        v = q->act_max;
    return (int8_t)v;
}

static int32_t row_sum(const int8_t *w, int32_t n) {
    int32_t s = 0;
    while (n--)
        s += *w++;
    return s;
}

/* bias[c] + input_offset * sum(w[c]), wrapping like TFLM's int32 sum would */
static int32_t folded(const el_requant *q, const int8_t *w, int32_t n, int32_t c) {
    uint32_t b = q->bias ? (uint32_t)q->bias[c * q->stride] : 0u;
    if (q->input_offset)
        b += (uint32_t)q->input_offset * (uint32_t)row_sum(w, n);
    return (int32_t)b;
}

/* out[c * ostride] for rows 0..count-1 of w (k bytes each) against col; bias from
 * fold[], requantization of channel qc0 + c */
static void rows(const int8_t *col, const int8_t *w, int32_t k, int32_t qc0, int32_t count,
                 const int32_t *fold, const el_requant *q, int8_t *out, int32_t ostride) {
    int32_t c = 0;
    for (; c + 4 <= count; c += 4) {
        int32_t acc[4] = {fold[c], fold[c + 1], fold[c + 2], fold[c + 3]};
        el_dot4_s8(col, w + c * k, k, k, acc);
        for (int32_t r = 0; r < 4; r++)
            out[(c + r) * ostride] = finish(acc[r], q, qc0 + c + r);
    }
    for (; c < count; c++)
        out[c * ostride] = finish(fold[c] + el_dot1_s8(col, w + c * k, k), q, qc0 + c);
}

void el_fully_connected_s8(const int8_t *x, const int8_t *w, int8_t *y,
                           int32_t batches, int32_t depth, int32_t units, const el_requant *q) {
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *xb = x + b * depth;
        int8_t *yb = y + b * units;
        int32_t fold[4];
        int32_t u = 0;
        for (; u < units; u += 4) {
            int32_t n = units - u < 4 ? units - u : 4;
            for (int32_t r = 0; r < n; r++)
                fold[r] = folded(q, w + (u + r) * depth, depth, u + r);
            rows(xb, w + u * depth, depth, u, n, fold, q, yb + u, 1);
        }
    }
}

static inline int32_t round4(int32_t n) {
    return (n + 3) & ~3;
}

static void copy_strided(int8_t *dst, const int8_t *src, int32_t n, int32_t step) {
    if (step == 1) {
#if defined(__ARM_FEATURE_UNALIGNED) || defined(__x86_64__) || defined(__i386__)
        for (; n >= 4; n -= 4, dst += 4, src += 4) {
            uint32_t v;
            __builtin_memcpy(&v, src, 4); /* one unaligned word load and store */
            __builtin_memcpy(dst, &v, 4);
        }
#endif
        while (n--)
            *dst++ = *src++;
        return;
    }
    while (n--) {
        *dst++ = *src;
        src += step;
    }
}

static void fill(int8_t *dst, int32_t n, int8_t v) {
    while (n--)
        *dst++ = v;
}

/* One pixel's window: channels [c0, c0 + cn) of each tap (cn is in_c or 1),
 * taps outside the image set to `pad`. Rows whose taps are all inside, with
 * no horizontal dilation, are one contiguous (conv) or strided (depthwise)
 * copy; only border taps are tested one by one. */
static void gather(const el_geom *g, const int8_t *xb, int32_t y0, int32_t x0, int32_t c0, int32_t cn,
                   int8_t pad, int8_t *col) {
    int32_t row = g->in_w * g->in_c;
    int32_t fw = g->filter_w, dw = g->dilation_w;
    int32_t span = fw * cn;
    int whole = x0 >= 0 && x0 + (fw - 1) * dw < g->in_w;
    for (int32_t fy = 0; fy < g->filter_h; fy++, col += span) {
        int32_t iy = y0 + fy * g->dilation_h;
        if (iy < 0 || iy >= g->in_h) {
            fill(col, span, pad);
            continue;
        }
        const int8_t *xr = xb + iy * row + c0;
        if (whole && dw == 1) {
            if (cn == g->in_c)
                copy_strided(col, xr + x0 * cn, span, 1);
            else
                copy_strided(col, xr + x0 * g->in_c, fw, g->in_c);
            continue;
        }
        int8_t *c = col;
        for (int32_t fx = 0; fx < fw; fx++, c += cn) {
            int32_t ix = x0 + fx * dw;
            if (ix >= 0 && ix < g->in_w)
                copy_strided(c, xr + ix * g->in_c, cn, 1);
            else
                fill(c, cn, pad);
        }
    }
}

int32_t el_conv_2d_scratch_size(const el_geom *g) {
    return round4(g->filter_h * g->filter_w * g->in_c) + 4 * g->out_c;
}

void el_conv_2d_s8(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                   const el_requant *q, void *scratch) {
    el_conv_2d_s8_range(g, x, w, y, q, scratch, 0, g->out_c);
}

void el_conv_2d_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                         const el_requant *q, void *scratch, int32_t c0, int32_t cn) {
    int32_t k = g->filter_h * g->filter_w * g->in_c;
    int8_t *col = (int8_t *)scratch;
    int32_t *fold = (int32_t *)(col + round4(k));
    int8_t pad = (int8_t)(-q->input_offset);
    for (int32_t c = 0; c < cn; c++)
        fold[c] = folded(q, w + c * k, k, c0 + c);
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * g->in_h * g->in_w * g->in_c;
        int8_t *yb = y + b * g->out_h * g->out_w * g->out_c + c0;
        for (int32_t oy = 0; oy < g->out_h; oy++)
            for (int32_t ox = 0; ox < g->out_w; ox++) {
                gather(g, xb, oy * g->stride_h - g->pad_h, ox * g->stride_w - g->pad_w, 0, g->in_c, pad, col);
                rows(col, w, k, c0, cn, fold, q, yb + (oy * g->out_w + ox) * g->out_c, 1);
            }
    }
}

int32_t el_depthwise_conv_2d_scratch_size(const el_geom *g) {
    return round4(g->filter_h * g->filter_w) + 4 * g->out_c;
}

void el_depthwise_conv_2d_s8(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                             const el_requant *q, void *scratch) {
    el_depthwise_conv_2d_s8_range(g, x, w, y, q, scratch, 0, g->in_c);
}

void el_depthwise_conv_2d_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                                   const el_requant *q, void *scratch, int32_t i0, int32_t in) {
    int32_t k = g->filter_h * g->filter_w;
    int32_t dm = g->depth_multiplier;
    int8_t *col = (int8_t *)scratch;
    int32_t *fold = (int32_t *)(col + round4(k));
    int8_t pad = (int8_t)(-q->input_offset);
    for (int32_t c = 0; c < in * dm; c++)
        fold[c] = folded(q, w + c * k, k, i0 * dm + c);
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * g->in_h * g->in_w * g->in_c;
        int8_t *yb = y + b * g->out_h * g->out_w * g->out_c;
        for (int32_t oy = 0; oy < g->out_h; oy++)
            for (int32_t ox = 0; ox < g->out_w; ox++) {
                int8_t *yp = yb + (oy * g->out_w + ox) * g->out_c;
                for (int32_t ci = 0; ci < in; ci++) {
                    int32_t oc = (i0 + ci) * dm;
                    gather(g, xb, oy * g->stride_h - g->pad_h, ox * g->stride_w - g->pad_w, i0 + ci, 1, pad, col);
                    rows(col, w + ci * dm * k, k, oc, dm, fold + ci * dm, q, yp + oc, 1);
                }
            }
    }
}
