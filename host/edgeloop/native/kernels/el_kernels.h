/* edgeloop native int8 kernels: TFLM's reference integer arithmetic, fast loops.
 *
 * Every kernel works on caller-provided buffers (activations, weights in
 * TFLite's own layouts, a scratch area sized by the *_scratch_size helper)
 * and never allocates. The output bytes equal tflite::reference_integer_ops
 * (FullyConnected, ConvPerChannel, DepthwiseConvPerChannel) for every input
 * on which TFLM's C is defined (no int32 accumulator overflow).
 *
 * Requantization params are three int32 arrays read with a common stride,
 * so a caller whose params interleave (bias, multiplier, shift) per channel
 * passes p, p + 1, p + 2 and stride 3 without copying.
 */
#ifndef EL_KERNELS_H
#define EL_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const int32_t *bias;        /* may be 0: no bias */
    const int32_t *multiplier;
    const int32_t *shift;       /* TFLM's sign convention: > 0 shifts left */
    int32_t stride;             /* elements between channel c and c + 1 */
    int32_t input_offset;       /* -input zero point */
    int32_t output_offset;      /* output zero point */
    int32_t act_min, act_max;
} el_requant;

typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
    int32_t depth_multiplier;   /* depthwise only */
} el_geom;

/* tflite::MultiplyByQuantizedMultiplier (double rounding, TFLM's default build). */
int32_t el_mbqm(int32_t x, int32_t multiplier, int32_t shift);
/* The same through 16-bit halves (what ARMv6-M runs), on any target, for tests. */
int32_t el_mbqm_halves(int32_t x, int32_t multiplier, int32_t shift);

/* Bytes of scratch a conv/depthwise call needs for `rows` output channels of
 * dot length k (the column, folded biases, widened weights on ARMv7E-M). */
int32_t el_conv_scratch_bytes(int32_t k, int32_t rows);

/* acc[r] += sum_k x[k] * w[r * wstride + k] for r = 0..3: the inner loop of all three ops. */
void el_dot4_s8(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n, int32_t *acc);
/* The same four rows widened to int16 (ARMv7E-M only: el_ops.c's widen()):
 * n4 steps of 4 taps, rows wstride bytes apart, word aligned. */
void el_dot4w_s8(const int8_t *x, const int16_t *w16, int32_t wstride, int32_t n4, int32_t *acc);
/* sum_k x[k] * w[k] */
int32_t el_dot1_s8(const int8_t *x, const int8_t *w, int32_t n);

/* out[r] = sum_k x[k] * w[r * stride + k], r < rows: raw int32 sums, no bias or requantization
 * (the LSTM's gate halves, which the caller requantizes to int16). out is int32 aligned. */
void el_mat_vec_s8(const int8_t *w, int32_t stride, int32_t rows, const int8_t *x, int32_t n, int32_t *out);

/* FULLY_CONNECTED: y[b, u] from x[b, depth] and w[units, depth]. No scratch. */
void el_fully_connected_s8(const int8_t *x, const int8_t *w, int8_t *y,
                           int32_t batches, int32_t depth, int32_t units, const el_requant *q);

/* CONV_2D (per-channel): x NHWC, w [out_c, filter_h, filter_w, in_c] (OHWI). */
int32_t el_conv_2d_scratch_size(const el_geom *g);
void el_conv_2d_s8(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                   const el_requant *q, void *scratch);

/* Bytes of scratch el_conv_2d_s8_range needs for `rows` output channels (few
 * input channels use a row strip whose size depends on the geometry). */
int32_t el_conv_range_scratch_bytes(const el_geom *g, int32_t rows);

/* Output channels c0..c0+cn-1 only; w holds just their cn filters and scratch
 * needs el_conv_range_scratch_bytes(g, cn) bytes, word aligned. For callers that
 * stream weights by group. */
void el_conv_2d_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                         const el_requant *q, void *scratch, int32_t c0, int32_t cn);

/* DEPTHWISE_CONV_2D (per-channel): w [out_c, filter_h, filter_w], one channel's taps
 * contiguous (TFLite's [1, H, W, out_c] transposed, as the edgeloop model file holds it). */
int32_t el_depthwise_conv_2d_scratch_size(const el_geom *g);
void el_depthwise_conv_2d_s8(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                             const el_requant *q, void *scratch);

/* Bytes of scratch el_depthwise_conv_2d_s8_range needs for `in` input channels
 * (depth multipliers that are a multiple of 4 use a row strip: see el_dw.c). */
int32_t el_depthwise_scratch_bytes(const el_geom *g, int32_t in);

/* Input channels i0..i0+in-1 (output channels i0*dm .. (i0+in)*dm - 1); w holds
 * just their in*dm filters, scratch needs el_depthwise_scratch_bytes(g, in)
 * bytes, word aligned. */
void el_depthwise_conv_2d_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                                   const el_requant *q, void *scratch, int32_t i0, int32_t in);

/* TRANSPOSE_CONV (per-channel, el_tconv.c): x NHWC, w [out_c, filter_h, filter_w, in_c];
 * output channels c0..c0+cn-1 only, w holding just their cn filters. Padding is
 * TFLM's (from the output size, never negative); dilation is unused. */
int32_t el_transpose_conv_scratch_bytes(const el_geom *g, int32_t rows);
void el_transpose_conv_s8_range(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y,
                                const el_requant *q, void *scratch, int32_t c0, int32_t cn);

/* BATCH_MATMUL (el_bmm.c): the runtime's params BATCHES..SHIFT (opspec.py; el_module.c
 * checks each member and that every stride stays inside the arena). Offsets are into
 * `arena`; the output is contiguous [batches][rows][cols]. */
typedef struct {
    int32_t batches[2], rows, cols, depth, lhs, lhs_batch[2], lhs_row, lhs_k;
    int32_t rhs, rhs_batch[2], rhs_k, rhs_col, output, lhs_offset, rhs_offset, output_offset;
    int32_t multiplier, shift;
} el_bmm;
int32_t el_batch_matmul_scratch_bytes(const el_bmm *m);
void el_batch_matmul_s8(const el_bmm *m, int8_t *arena, void *scratch);

/* ---- light ops (el_misc.c); the structs are the runtime's params from the
 *      given index, so callers point into the params array. */
typedef struct {   /* pool_2d params BATCHES..ACT_MAX (opspec.py; el_module.c checks each member) */
    int32_t batches, in_h, in_w, depth, out_h, out_w, stride_h, stride_w;
    int32_t filter_h, filter_w, pad_h, pad_w, act_min, act_max;
} el_pool;
void el_pool_2d_s8(const el_pool *g, int is_max, const int8_t *x, int8_t *y);

typedef struct {   /* add params INPUT1_OFFSET..STRIDES2 (opspec.py; el_module.c checks each member) */
    int32_t in1_offset, in2_offset, out_offset, left_shift;
    int32_t in1_multiplier, in1_shift, in2_multiplier, in2_shift, out_multiplier, out_shift;
    int32_t act_min, act_max, dims[4], strides1[4], strides2[4];
} el_add;
void el_add_s8(const el_add *a, int32_t n, int broadcast, const int8_t *x1, const int8_t *x2, int8_t *y);

typedef struct {   /* mean params OUTER..OUTPUT_ZP (opspec.py; el_module.c checks each member;
                      input/output offsets unused here) */
    int32_t outer, count, inner, input, output, bias, multiplier, shift, output_zp;
} el_mean;
void el_mean_s8(const el_mean *m, const int8_t *x, int8_t *y);

void el_lut8_s8(const int8_t *table, const int8_t *x, int8_t *y, int32_t n);
void el_concat_s8(int32_t outer, int32_t n_inputs, const int8_t *const *xs, const int32_t *sizes, int8_t *y);

/* SOFTMAX (el_softmax.c): `outer` rows of `depth`; table holds `count` (<= 256)
 * little-endian int32 Q0.31 exp values for k = max(row) - x (any alignment). */
void el_softmax_s8(int32_t outer, int32_t depth, const uint8_t *table, int32_t count, const int8_t *x,
                   int8_t *y);

#ifdef __cplusplus
}
#endif
#endif
