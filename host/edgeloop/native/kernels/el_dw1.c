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
 * Weights are rearranged once per call into int32, tap-major per block of 4
 * channels ([block][tap][4]), so one LDM (ARMv6-M) or LDRD pair brings a tap's
 * four weights without sign extension. Channels past the last whole block
 * (in % 4) go one at a time over the same layout (zero weights fill the rest).
 *
 * Scratch (el_dw1_scratch): weights 16 * k per 4 channels, the zero-point row,
 * k tap pointers, and per channel its constants and sum.
 */
#include "el_internal.h"

static inline int32_t round4(int32_t n) {
    return (n + 3) & ~3;
}

int32_t el_dw1_scratch(const el_geom *g, int32_t in) {
    int32_t k = g->filter_h * g->filter_w, c4 = round4(in);
    return 4 * k * c4 + ((c4 + 7) & ~7) + (int32_t)sizeof(void *) * k + (int32_t)(sizeof(el_chan) + 4) * in;
}

/* acc[0..3] = fold + sum over the k taps of xp[t][0..3] * w[4t + 0..3] */
static __attribute__((noinline)) void block4(const int8_t *const *xp, int32_t k, int32_t c, const int32_t *w, const el_chan *ch,
                   int32_t *acc) {
    int32_t a0 = ch[0].fold, a1 = ch[1].fold, a2 = ch[2].fold, a3 = ch[3].fold;
    const int8_t *const *end = xp + k;
    do {
        const int8_t *s = *xp++ + c;
        a0 += s[0] * w[0];
        a1 += s[1] * w[1];
        a2 += s[2] * w[2];
        a3 += s[3] * w[3];
        w += 4;
    } while (xp != end);
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}

void el_dw1(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
            void *scratch, int32_t i0, int32_t in) {
    int32_t fh = g->filter_h, fw = g->filter_w, k = fh * fw, c4 = round4(in), full = in & ~3;
    int32_t in_c = g->in_c, row = g->in_w * in_c;
    int32_t *wt = (int32_t *)scratch;
    int8_t *padrow = (int8_t *)(wt + k * c4);
    const int8_t **xp = (const int8_t **)(padrow + ((c4 + 7) & ~7)); /* pointer aligned on 64-bit hosts */
    el_chan *chan = (el_chan *)(xp + k);
    int32_t *acc = (int32_t *)(chan + in);

    /* w is [in][fh][fw]: channel c's tap t goes to block c / 4, slot c % 4 */
    for (int32_t c = 0; c < c4; c++)
        for (int32_t t = 0; t < k; t++)
            wt[((c >> 2) * k + t) * 4 + (c & 3)] = c < in ? w[c * k + t] : 0;
    int8_t pad = (int8_t)(-q->input_offset);
    for (int32_t c = 0; c < c4; c++)
        padrow[c] = pad;
    int slow = 0;
    for (int32_t c = 0; c < in; c++)
        slow |= el_prep_chan(chan + c, q, w + c * k, k, i0 + c);

    for (int32_t b = 0; b < g->batches; b++) {
        const int8_t *xb = x + b * g->in_h * row + i0;
        int8_t *yp = y + b * g->out_h * g->out_w * g->out_c + i0;
        for (int32_t oy = 0; oy < g->out_h; oy++) {
            int32_t y0 = oy * g->stride_h - g->pad_h;
            for (int32_t ox = 0; ox < g->out_w; ox++, yp += g->out_c) {
                int32_t x0 = ox * g->stride_w - g->pad_w;
                const int8_t **p = xp;
                for (int32_t fy = 0, iy = y0; fy < fh; fy++, iy += g->dilation_h) {
                    if (iy < 0 || iy >= g->in_h) {
                        for (int32_t fx = 0; fx < fw; fx++)
                            *p++ = padrow;
                        continue;
                    }
                    const int8_t *r = xb + iy * row;
                    for (int32_t fx = 0, ix = x0; fx < fw; fx++, ix += g->dilation_w)
                        *p++ = ix >= 0 && ix < g->in_w ? r + ix * in_c : padrow;
                }
                int32_t c = 0;
                for (; c < full; c += 4)
                    block4(xp, k, c, wt + c * k, chan + c, acc + c);
                for (; c < in; c++) {
                    const int32_t *wc = wt + full * k + (c & 3);
                    int32_t a = chan[c].fold;
                    for (int32_t t = 0; t < k; t++)
                        a += xp[t][c] * wc[4 * t];
                    acc[c] = a;
                }
                el_requant_out(acc, chan, in, slow, q, yp);
            }
        }
    }
}
