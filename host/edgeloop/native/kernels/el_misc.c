/* The light ops: pooling, ADD, MEAN, CONCATENATION and the 256-entry table ops.
 *
 * Why in C at all: they are cheap per byte but the portable level pays a
 * Python bytecode loop per element (pooling's window scan dominates a small
 * CNN once the convolutions are native). The arithmetic is the portable
 * kernels' line for line (firmware/edgeloop_fw/runtime/kernels/), which is
 * TFLM's reference_integer_ops; the param blocks are the runtime's own
 * int32 layout, so the glue passes a pointer into the params, no copy.
 */
#include "el_kernels.h"

static int32_t clamp(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* MAX_POOL_2D / AVERAGE_POOL_2D: the window is clipped to the input, the
 * average divides by the pixels inside and rounds half away from zero
 * (TFLM: (acc +- count/2) / count with C's truncating division). */
void el_pool_2d_s8(const el_pool *g, int is_max, const int8_t *x, int8_t *y) {
    const int32_t row = g->in_w * g->depth, depth = g->depth;
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * g->in_h * row;
        for (int32_t oy = 0; oy < g->out_h; oy++) {
            int32_t iy0 = oy * g->stride_h - g->pad_h;
            int32_t fy0 = iy0 < 0 ? -iy0 : 0;
            int32_t fy1 = g->in_h - iy0 < g->filter_h ? g->in_h - iy0 : g->filter_h;
            for (int32_t ox = 0; ox < g->out_w; ox++) {
                int32_t ix0 = ox * g->stride_w - g->pad_w;
                int32_t fx0 = ix0 < 0 ? -ix0 : 0;
                int32_t fx1 = g->in_w - ix0 < g->filter_w ? g->in_w - ix0 : g->filter_w;
                int32_t count = (fy1 - fy0) * (fx1 - fx0);
                for (int32_t c = 0; c < depth; c++) {
                    int32_t acc = is_max ? -128 : 0;
                    for (int32_t fy = fy0; fy < fy1; fy++) {
                        const int8_t *px = xb + (iy0 + fy) * row + (ix0 + fx0) * depth + c;
                        for (int32_t fx = fx0; fx < fx1; fx++, px += depth) {
                            if (is_max) {
                                if (*px > acc)
                                    acc = *px;
                            } else {
                                acc += *px;
                            }
                        }
                    }
                    if (!is_max && count > 0) /* count 0 only on a window wholly in padding */
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    *y++ = (int8_t)clamp(acc, g->act_min, g->act_max);
                }
            }
        }
    }
}

static int8_t add1(const el_add *a, int32_t v1, int32_t v2) {
    int32_t s = el_mbqm((v1 + a->in1_offset) * (1 << a->left_shift), a->in1_multiplier, a->in1_shift) +
                el_mbqm((v2 + a->in2_offset) * (1 << a->left_shift), a->in2_multiplier, a->in2_shift);
    return (int8_t)clamp(el_mbqm(s, a->out_multiplier, a->out_shift) + a->out_offset, a->act_min, a->act_max);
}

/* ADD (tflite::reference_integer_ops::AddFunc), elementwise or broadcast over
 * four dims with per-input strides (0 on a broadcast axis). */
void el_add_s8(const el_add *a, int32_t n, int broadcast, const int8_t *x1, const int8_t *x2, int8_t *y) {
    if (!broadcast) {
        for (int32_t i = 0; i < n; i++)
            y[i] = add1(a, x1[i], x2[i]);
        return;
    }
    const int32_t *d = a->dims, *s1 = a->strides1, *s2 = a->strides2;
    for (int32_t i0 = 0; i0 < d[0]; i0++)
        for (int32_t i1 = 0; i1 < d[1]; i1++)
            for (int32_t i2 = 0; i2 < d[2]; i2++) {
                const int8_t *p1 = x1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *p2 = x2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < d[3]; i3++, p1 += s1[3], p2 += s2[3])
                    *y++ = add1(a, *p1, *p2);
            }
}

/* MEAN (tflite::reference_ops::QuantizedMeanOrSum) over the middle axis of
 * [outer, count, inner]; the host folded -zp * count into bias and 1/count
 * into the multiplier. */
void el_mean_s8(const el_mean *m, const int8_t *x, int8_t *y) {
    const int32_t span = m->count * m->inner;
    for (int32_t o = 0; o < m->outer; o++)
        for (int32_t i = 0; i < m->inner; i++) {
            const int8_t *px = x + o * span + i;
            int32_t acc = m->bias;
            for (int32_t k = 0; k < m->count; k++, px += m->inner)
                acc += *px;
            *y++ = (int8_t)clamp(el_mbqm(acc, m->multiplier, m->shift) + m->output_zp, -128, 127);
        }
}

/* y[i] = table[x[i] + 128]: RELU, RELU6, LOGISTIC, TANH, QUANTIZE (the host
 * tabulated TFLM's answer for every input code). */
void el_lut8_s8(const int8_t *table, const int8_t *x, int8_t *y, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        y[i] = table[x[i] + 128];
}

/* CONCATENATION: for each of `outer` rows, input k gives sizes[k] bytes. */
void el_concat_s8(int32_t outer, int32_t n_inputs, const int8_t *const *xs, const int32_t *sizes, int8_t *y) {
    for (int32_t o = 0; o < outer; o++)
        for (int32_t k = 0; k < n_inputs; k++) {
            const int8_t *px = xs[k] + o * sizes[k];
            for (int32_t i = 0; i < sizes[k]; i++)
                *y++ = px[i];
        }
}
