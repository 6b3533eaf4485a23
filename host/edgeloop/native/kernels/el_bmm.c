/* BATCH_MATMUL (int8, both operands activations): tflite::reference_ops::BatchMatMul.
 *
 * TFLM sums (lhs + lhs_offset) * (rhs + rhs_offset) over the depth, then
 * MultiplyByQuantizedMultiplier (one per-tensor multiplier, no bias). The host
 * already turned adj_x/adj_y and the broadcast batches into byte strides
 * (el_bmm), so an operand may be read along any stride. Per batch the right
 * operand is gathered once, transposed, into scratch (each column contiguous),
 * and each left row into a contiguous copy when its depth stride is not 1;
 * four columns then go through one el_dot4_s8 against the row. The offsets
 * split off exactly in int32 (wrapping like TFLM's sum):
 *   sum (l + a)(r + b) = sum l r + b sum l + a sum r + depth a b,
 * with sum r per column taken during the gather and sum l per row.
 */
#include "el_kernels.h"

static inline int32_t round4(int32_t n) {
    return (n + 3) & ~3;
}

int32_t el_batch_matmul_scratch_bytes(const el_bmm *m) {
    return round4(m->cols * m->depth) + round4(m->depth) + 4 * m->cols;
}

void el_batch_matmul_s8(const el_bmm *m, int8_t *arena, void *scratch) {
    const int32_t rows = m->rows, cols = m->cols, depth = m->depth;
    const int32_t lk = m->lhs_k, rk = m->rhs_k;
    int8_t *rt = (int8_t *)scratch;                    /* [cols][depth]: the right operand transposed */
    int8_t *lrow = rt + round4(cols * depth);          /* one left row, contiguous */
    int32_t *csum = (int32_t *)(lrow + round4(depth)); /* lhs_offset * sum of each column, + depth a b */
    const uint32_t a = (uint32_t)m->lhs_offset, b = (uint32_t)m->rhs_offset;
    const uint32_t ab = (uint32_t)depth * a * b;
    int8_t *y = arena + m->output;
    for (int32_t b0 = 0; b0 < m->batches[0]; b0++) {
        for (int32_t b1 = 0; b1 < m->batches[1]; b1++) {
            const int8_t *lb = arena + m->lhs + b0 * m->lhs_batch[0] + b1 * m->lhs_batch[1];
            const int8_t *rb = arena + m->rhs + b0 * m->rhs_batch[0] + b1 * m->rhs_batch[1];
            for (int32_t j = 0; j < cols; j++) {
                const int8_t *r = rb + j * m->rhs_col;
                int8_t *o = rt + j * depth;
                uint32_t s = 0;
                for (int32_t k = 0; k < depth; k++, r += rk) {
                    o[k] = *r;
                    s += (uint32_t)(int32_t)*r;
                }
                csum[j] = (int32_t)(a * s + ab);
            }
            for (int32_t i = 0; i < rows; i++) {
                const int8_t *l = lb + i * m->lhs_row;
                uint32_t s = 0;
                if (lk == 1) {
                    for (int32_t k = 0; k < depth; k++)
                        s += (uint32_t)(int32_t)l[k];
                } else {
                    for (int32_t k = 0; k < depth; k++, l += lk) {
                        lrow[k] = *l;
                        s += (uint32_t)(int32_t)*l;
                    }
                    l = lrow;
                }
                const uint32_t rsum = b * s;
                int32_t acc[4];
                for (int32_t j = 0; j < cols; j += 4) {
                    int32_t n = cols - j < 4 ? cols - j : 4;
                    for (int32_t c = 0; c < n; c++)
                        acc[c] = (int32_t)(rsum + (uint32_t)csum[j + c]);
                    if (n == 4) {
                        el_dot4_s8(l, rt + j * depth, depth, depth, acc);
                    } else {
                        for (int32_t c = 0; c < n; c++)
                            acc[c] += el_dot1_s8(l, rt + (j + c) * depth, depth);
                    }
                    for (int32_t c = 0; c < n; c++) {
                        int32_t v = el_mbqm(acc[c], m->multiplier, m->shift) + m->output_offset;
                        v = v < -128 ? -128 : v;
                        *y++ = (int8_t)(v > 127 ? 127 : v);
                    }
                }
            }
        }
    }
}
