/* TRANSPOSE_CONV (per-channel int8): tflite::reference_integer_ops::TransposeConv.
 *
 * TFLM scatters every input pixel times the filter into an int32 buffer the
 * size of the output and then adds the bias. The sums are exact int32 sums,
 * so gathering them per output pixel gives the same accumulators with no
 * output-sized buffer (as the portable and viper levels do): output (oy, ox)
 * takes tap (fy, fx) from input ((oy + pad_h - fy) / stride_h, ...) where the
 * division is exact and inside the input.
 *
 * Which taps reach a pixel depends on the pixel (the image edges, the stride
 * phase), so the input offset cannot be folded into one per-channel bias as
 * CONV_2D's im2col does. It is folded per tap instead:
 *   sum_i w[c,t,i] * (x_i + off) = sum_i w[c,t,i] * x_i + off * sum_i w[c,t,i],
 * the second term computed once per call (wrapping like TFLM's int32 sum),
 * so the MACs are el_dot4_s8's four rows (channels c..c+3 of one tap, K bytes
 * apart) against the input pixel's IN_C bytes, read in place.
 */
#include "el_kernels.h"
#include "el_internal.h"

int32_t el_transpose_conv_scratch_bytes(const el_geom *g, int32_t rows) {
    /* per channel: its constants, its accumulator and its per-tap offset terms */
    return ((int32_t)sizeof(el_chan) + 4 + 4 * g->filter_h * g->filter_w) * rows;
}

void el_transpose_conv_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                                const el_requant *q, void *scratch, int32_t c0, int32_t cn) {
    const int32_t ih = g->in_h, iw = g->in_w, ic = g->in_c, oh = g->out_h, ow = g->out_w, oc = g->out_c;
    const int32_t fh = g->filter_h, fw = g->filter_w, sh = g->stride_h, sw = g->stride_w;
    const int32_t taps = fh * fw, k = taps * ic;
    el_chan *chan = (el_chan *)scratch;
    int32_t *acc = (int32_t *)(chan + cn);
    int32_t *toff = acc + cn; /* toff[t * cn + r]: input_offset * sum of channel r's weights at tap t */
    int slow = 0;
    for (int32_t r = 0; r < cn; r++) {
        slow |= el_prep_chan(chan + r, q, w + r * k, 0, c0 + r); /* k 0: the fold is the bias alone */
        for (int32_t t = 0; t < taps; t++) {
            const int8_t *wt = w + r * k + t * ic;
            uint32_t s = 0;
            for (int32_t i = 0; i < ic; i++)
                s += (uint32_t)(int32_t)wt[i];
            toff[t * cn + r] = (int32_t)(s * (uint32_t)q->input_offset);
        }
    }
    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * ih * iw * ic;
        int8_t *yb = y + b * oh * ow * oc + c0;
        for (int32_t oy = 0; oy < oh; oy++) {
            int32_t ty = oy + g->pad_h; /* >= 0: the glue refuses a negative padding */
            int32_t iy1 = ty / sh;
            if (iy1 > ih - 1)
                iy1 = ih - 1;
            for (int32_t ox = 0; ox < ow; ox++) {
                int32_t tx = ox + g->pad_w;
                int32_t ix1 = tx / sw;
                if (ix1 > iw - 1)
                    ix1 = iw - 1;
                for (int32_t r = 0; r < cn; r++)
                    acc[r] = chan[r].fold;
                for (int32_t iy = iy1, fy = ty - iy1 * sh; iy >= 0 && fy < fh; iy--, fy += sh) {
                    for (int32_t ix = ix1, fx = tx - ix1 * sw; ix >= 0 && fx < fw; ix--, fx += sw) {
                        const int8_t *xp = xb + (iy * iw + ix) * ic;
                        const int32_t t = fy * fw + fx;
                        const int8_t *wt = w + t * ic;
                        const int32_t *to = toff + t * cn;
                        int32_t r = 0;
                        for (; r + 4 <= cn; r += 4) {
                            el_dot4_s8(xp, wt + r * k, k, ic, acc + r);
                            acc[r] += to[r]; acc[r + 1] += to[r + 1];
                            acc[r + 2] += to[r + 2]; acc[r + 3] += to[r + 3];
                        }
                        for (; r < cn; r++)
                            acc[r] += el_dot1_s8(xp, wt + r * k, ic) + to[r];
                    }
                }
                el_requant_out(acc, chan, cn, slow, q, yb + (oy * ow + ox) * oc);
            }
        }
    }
}
