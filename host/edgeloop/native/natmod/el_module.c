/* MicroPython native-module glue: the runtime's ops on top of el_ops.c.
 *
 * Python sees three functions, one per heavy op, each computing a group of
 * output channels whose weights the caller has just streamed from the model
 * file into `w` (the runtime keeps weights in the file; see
 * docs/native-modules.md "Weights"):
 *   fully_connected(p, arena, w, u0, n[, at])    units u0..u0+n-1
 *   fully_connected(p, arena, file)              every unit, weights at p's WEIGHTS offset in file
 *   conv_2d(p, arena, w, scratch, c0, n[, at])   output channels c0..c0+n-1
 *   depthwise_conv_2d(p, arena, w, scratch, i0, n[, at]) input channels i0..i0+n-1
 *   (`at`: where the group's weights start in w, so w can be the whole model
 *   file when it is addressable, a ROMFS file: no copy; default 0)
 *   scratch_size(p, n)                           scratch bytes for conv_2d over n output channels
 *   transpose_conv(p, arena, w, scratch, c0, n[, at]) output channels c0..c0+n-1
 *   tconv_scratch_size(p, n)                     scratch bytes for transpose_conv over n output channels
 *   batch_matmul(p, arena, scratch), bmm_scratch_size(p)
 *   mat_vec(w, at, stride, rows, v, v_at, n, out, o)  out[o + r] = sum_k w[at + r stride + k] v[v_at + k]
 *                                                (int32 array out, raw sums: the LSTM's gate halves)
 *   dw_scratch_size(p, n)                        scratch bytes for depthwise_conv_2d over n input channels
 *   pool_2d(p, arena), add(p, arena), mean(p, arena), concatenation(p, arena)
 *   lut8(p, arena)                               table already read into the op's scratch
 *   softmax(p, arena)                            exp table already read into the op's scratch
 * `p` is the op's params (int32, indexed by el_params.h, generated from
 * edgeloop_fw/runtime/opspec.py like the Python kernels' names), `arena` the
 * interpreter's arena. Every
 * offset and size is checked against the buffers before a byte is touched:
 * a bad call raises ValueError instead of writing outside the arena.
 * API is the version of this calling convention; the board glue refuses a
 * module whose API differs (and the interpreter falls back a level).
 */
#include <stddef.h>

#include "el_natmod.h"
#include "el_kernels.h"
#include "el_params.h" /* the params' indices, generated from opspec.py */

#define EL_API 9 /* 2: scratch sized by scratch_size(); 3: depthwise by dw_scratch_size() (row strip);
                  4: the light ops pool_2d, add, mean, lut8, concatenation; 5: softmax;
                  6: fully_connected, conv_2d, depthwise_conv_2d take an optional offset into w,
                  fully_connected(p, arena, file) the whole layer;
                  7: scratch_size(p, n) from conv's params (few input channels: a row strip);
                  8: transpose_conv, batch_matmul; 9: mat_vec (raw int32 sums) */

/* The qstrs this module uses, in mp_native_qstr_table order from index 1
 * (0 is the file name). The linker reads this section and drops it. */
static const char qstr_names[] __attribute__((section(".el_qstrs"), used)) =
    "ValueError\0fully_connected\0conv_2d\0depthwise_conv_2d\0API\0scratch_size\0dw_scratch_size\0"
    "pool_2d\0add\0mean\0lut8\0concatenation\0softmax\0"
    "audio_frame\0audio_work_size\0transpose_conv\0tconv_scratch_size\0batch_matmul\0bmm_scratch_size\0"
    "mat_vec\0";
enum { Q_ValueError = 1, Q_fully_connected, Q_conv_2d, Q_depthwise_conv_2d, Q_API, Q_scratch_size,
       Q_dw_scratch_size, Q_pool_2d, Q_add, Q_mean, Q_lut8, Q_concatenation, Q_softmax,
       Q_audio_frame, Q_audio_work_size, Q_transpose_conv, Q_tconv_scratch_size,
       Q_batch_matmul, Q_bmm_scratch_size, Q_mat_vec };

static void fail(const char *msg) {
    mp_fun_table.raise_msg(mp_fun_table.load_global(mp_native_qstr_table[Q_ValueError]), msg);
}

static int32_t get_int(mp_obj_t o) {
    return (int32_t)mp_fun_table.native_from_obj(o, EL_NATIVE_TYPE_INT);
}

static void *get_buf(mp_obj_t o, size_t *len, uintptr_t flags) {
    el_buffer_info info;
    mp_fun_table.get_buffer(o, &info, flags | EL_BUFFER_RAISE);
    *len = info.len;
    return info.buf;
}

typedef struct {
    const int32_t *p;
    size_t np;       /* params */
    int8_t *arena;
    size_t na;
    const int8_t *w;
    size_t nw;
} call_bufs;

static void bufs(const mp_obj_t *args, call_bufs *b) {
    b->p = get_buf(args[0], &b->np, EL_BUFFER_READ);
    b->np /= 4;
    b->arena = get_buf(args[1], &b->na, EL_BUFFER_WRITE);
    b->w = get_buf(args[2], &b->nw, EL_BUFFER_READ);
}

/* the optional last argument `at` (args[i] when given): the weights start `at` bytes into w */
static void weights_at(size_t n_args, const mp_obj_t *args, size_t i, call_bufs *b) {
    if (n_args <= i)
        return;
    int32_t at = get_int(args[i]);
    if (at < 0 || (size_t)at > b->nw)
        fail("native: weights offset outside w");
    b->w += at;
    b->nw -= (size_t)at;
}

/* [at, at + n) inside a buffer of `size` bytes, without overflow */
static int inside(int32_t at, int64_t n, size_t size) {
    return at >= 0 && n >= 0 && (uint64_t)at + (uint64_t)n <= (uint64_t)size;
}

/* FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D share one (bias, multiplier, shift) unit */
_Static_assert(EL_FC_PER_UNIT_STEP == EL_CONV_PER_CHANNEL_STEP && EL_FC_BIAS == EL_CONV_BIAS &&
               EL_FC_MULTIPLIER == EL_CONV_MULTIPLIER && EL_FC_SHIFT == EL_CONV_SHIFT &&
               EL_DW_PER_CHANNEL_STEP == EL_CONV_PER_CHANNEL_STEP && EL_DW_BIAS == EL_CONV_BIAS &&
               EL_DW_MULTIPLIER == EL_CONV_MULTIPLIER && EL_DW_SHIFT == EL_CONV_SHIFT, "per-channel units differ");

static el_requant requant(const call_bufs *b, int32_t first, int32_t in_off, int32_t out_off,
                          int32_t lo, int32_t hi, int32_t channels) {
    const int32_t step = EL_CONV_PER_CHANNEL_STEP;
    if (first < 0 || (size_t)first + (size_t)step * (size_t)channels > b->np)
        fail("native: params too short for the channels");
    const int32_t *u = b->p + first;
    el_requant q = {u + EL_CONV_BIAS, u + EL_CONV_MULTIPLIER, u + EL_CONV_SHIFT, step, in_off, out_off, lo, hi};
    return q;
}

/* ---- FULLY_CONNECTED: EL_FC_PER_UNIT + 3u: (bias', mult, shift) */
static mp_obj_t fully_connected(size_t n_args, const mp_obj_t *args) {
    call_bufs b;
    bufs(args, &b);
    if (b.np < EL_FC_PER_UNIT)
        fail("native: fully_connected params too short");
    int32_t u0 = 0, n = b.p[EL_FC_UNITS];
    if (n_args == 3) { /* the whole layer from the mapped model file: the fewest Python steps */
        int32_t at = b.p[EL_FC_WEIGHTS];
        if (at < 0 || (size_t)at > b.nw)
            fail("native: weights offset outside w");
        b.w += at;
        b.nw -= (size_t)at;
    } else {
        if (n_args < 5)
            fail("native: fully_connected takes (p, arena, file) or (p, arena, w, u0, n[, at])");
        weights_at(n_args, args, 5, &b);
        u0 = get_int(args[3]);
        n = get_int(args[4]);
    }
    const int32_t *p = b.p;
    int32_t batches = p[EL_FC_BATCHES], depth = p[EL_FC_DEPTH], units = p[EL_FC_UNITS];
    int32_t x = p[EL_FC_INPUT], y = p[EL_FC_OUTPUT];
    if (u0 < 0 || n < 0 || u0 + n > units || (int64_t)n * depth > (int64_t)b.nw ||
        !inside(x, (int64_t)batches * depth, b.na) || !inside(y, (int64_t)batches * units, b.na))
        fail("native: fully_connected call outside its buffers");
    el_requant q = requant(&b, EL_FC_PER_UNIT + EL_FC_PER_UNIT_STEP * u0, 0, p[EL_FC_OUTPUT_OFFSET],
                           p[EL_FC_ACT_MIN], p[EL_FC_ACT_MAX], n);
    for (int32_t k = 0; k < batches; k++)
        el_fully_connected_s8(b.arena + x + k * depth, b.w, b.arena + y + k * units + u0, 1, depth, n, &q);
    return (mp_obj_t)mp_fun_table.const_none;
}

static void *scratch_arg(mp_obj_t o, int64_t need) {
    size_t len;
    void *s = get_buf(o, &len, EL_BUFFER_WRITE);
    if ((int64_t)len < need || ((uintptr_t)s & 3))
        fail("native: scratch too small or not word aligned");
    return s;
}

static int geom_ok(const el_geom *g, const call_bufs *b, int32_t x, int32_t y) {
    int64_t nx = (int64_t)g->batches * g->in_h * g->in_w * g->in_c;
    int64_t ny = (int64_t)g->batches * g->out_h * g->out_w * g->out_c;
    return g->batches >= 0 && g->in_h > 0 && g->in_w > 0 && g->in_c > 0 && g->out_h >= 0 &&
           g->out_w >= 0 && g->out_c > 0 && g->filter_h > 0 && g->filter_w > 0 &&
           inside(x, nx, b->na) && inside(y, ny, b->na);
}

/* el_geom from the params of OP (CONV or DW), depth multiplier DM */
#define EL_GEOM(p, OP, DM)                                                                           \
    {p[EL_##OP##_BATCHES], p[EL_##OP##_IN_H], p[EL_##OP##_IN_W], p[EL_##OP##_IN_C], p[EL_##OP##_OUT_H],  \
     p[EL_##OP##_OUT_W], p[EL_##OP##_OUT_C], p[EL_##OP##_FILTER_H], p[EL_##OP##_FILTER_W],              \
     p[EL_##OP##_STRIDE_H], p[EL_##OP##_STRIDE_W], p[EL_##OP##_DILATION_H], p[EL_##OP##_DILATION_W],     \
     p[EL_##OP##_PAD_H], p[EL_##OP##_PAD_W], DM}

/* ---- CONV_2D: EL_CONV_PER_CHANNEL + 3c: (bias, mult, shift) */
static mp_obj_t conv_2d(size_t n_args, const mp_obj_t *args) {
    call_bufs b;
    bufs(args, &b);
    weights_at(n_args, args, 6, &b);
    int32_t c0 = get_int(args[4]), n = get_int(args[5]);
    if (b.np < EL_CONV_PER_CHANNEL)
        fail("native: conv_2d params too short");
    const int32_t *p = b.p;
    el_geom g = EL_GEOM(p, CONV, 1);
    int32_t x = p[EL_CONV_INPUT], y = p[EL_CONV_OUTPUT];
    int64_t k = (int64_t)g.filter_h * g.filter_w * g.in_c;
    if (!geom_ok(&g, &b, x, y) || c0 < 0 || n < 0 || c0 + n > g.out_c || k * n > (int64_t)b.nw)
        fail("native: conv_2d call outside its buffers");
    void *s = scratch_arg(args[3], el_conv_range_scratch_bytes(&g, n));
    el_requant q = requant(&b, EL_CONV_PER_CHANNEL, p[EL_CONV_INPUT_OFFSET], p[EL_CONV_OUTPUT_OFFSET],
                           p[EL_CONV_ACT_MIN], p[EL_CONV_ACT_MAX], g.out_c);
    el_conv_2d_s8_range(&g, b.arena + x, b.w, b.arena + y, &q, s, c0, n);
    return (mp_obj_t)mp_fun_table.const_none;
}

static el_geom dw_geom(const int32_t *p) {
    el_geom g = EL_GEOM(p, DW, p[EL_DW_DEPTH_MULTIPLIER]);
    return g;
}

/* ---- DEPTHWISE_CONV_2D: EL_DW_PER_CHANNEL + 3c: (bias, mult, shift) */
static mp_obj_t depthwise_conv_2d(size_t n_args, const mp_obj_t *args) {
    call_bufs b;
    bufs(args, &b);
    weights_at(n_args, args, 6, &b);
    int32_t i0 = get_int(args[4]), n = get_int(args[5]);
    if (b.np < EL_DW_PER_CHANNEL)
        fail("native: depthwise_conv_2d params too short");
    const int32_t *p = b.p;
    el_geom g = dw_geom(p);
    int32_t x = p[EL_DW_INPUT], y = p[EL_DW_OUTPUT];
    int64_t k = (int64_t)g.filter_h * g.filter_w, dm = g.depth_multiplier;
    if (!geom_ok(&g, &b, x, y) || dm <= 0 || (int64_t)g.in_c * dm != g.out_c || i0 < 0 ||
        n < 0 || i0 + n > g.in_c || k * dm * n > (int64_t)b.nw)
        fail("native: depthwise_conv_2d call outside its buffers");
    void *s = scratch_arg(args[3], el_depthwise_scratch_bytes(&g, n));
    el_requant q = requant(&b, EL_DW_PER_CHANNEL, p[EL_DW_INPUT_OFFSET], p[EL_DW_OUTPUT_OFFSET],
                           p[EL_DW_ACT_MIN], p[EL_DW_ACT_MAX], g.out_c);
    el_depthwise_conv_2d_s8_range(&g, b.arena + x, b.w, b.arena + y, &q, s, i0, n);
    return (mp_obj_t)mp_fun_table.const_none;
}

/* el_geom from TRANSPOSE_CONV's params (no dilation: 1) */
static el_geom tconv_geom(const call_bufs *b) {
    const int32_t *p = b->p;
    if (b->np < EL_TCONV_PER_CHANNEL)
        fail("native: transpose_conv params too short");
    el_geom g = {p[EL_TCONV_BATCHES], p[EL_TCONV_IN_H], p[EL_TCONV_IN_W], p[EL_TCONV_IN_C], p[EL_TCONV_OUT_H],
                 p[EL_TCONV_OUT_W], p[EL_TCONV_OUT_C], p[EL_TCONV_FILTER_H], p[EL_TCONV_FILTER_W],
                 p[EL_TCONV_STRIDE_H], p[EL_TCONV_STRIDE_W], 1, 1, p[EL_TCONV_PAD_H], p[EL_TCONV_PAD_W], 1};
    /* the gather divides by the strides and walks taps from (o + pad) / stride down */
    if (g.stride_h <= 0 || g.stride_w <= 0 || g.pad_h < 0 || g.pad_w < 0 || g.filter_h <= 0 || g.filter_w <= 0 ||
        (int64_t)g.filter_h * g.filter_w > (1 << 16) || g.out_c <= 0 || g.out_c > (1 << 16) ||
        (int64_t)g.out_h + g.pad_h > (1 << 24) || (int64_t)g.out_w + g.pad_w > (1 << 24))
        fail("native: transpose_conv geometry out of range");
    return g;
}

/* n output channels' scratch, checked to stay far inside int32 */
static int32_t tconv_scratch(const el_geom *g, int32_t n) {
    if (n < 0 || n > g->out_c || (int64_t)(64 + 4 * g->filter_h * g->filter_w) * n > (1 << 30))
        fail("native: transpose_conv channel count out of range");
    return el_transpose_conv_scratch_bytes(g, n);
}

/* ---- TRANSPOSE_CONV: EL_TCONV_PER_CHANNEL + 3c: (bias, mult, shift) */
static mp_obj_t transpose_conv(size_t n_args, const mp_obj_t *args) {
    call_bufs b;
    bufs(args, &b);
    weights_at(n_args, args, 6, &b);
    int32_t c0 = get_int(args[4]), n = get_int(args[5]);
    el_geom g = tconv_geom(&b);
    const int32_t *p = b.p;
    int32_t x = p[EL_TCONV_INPUT], y = p[EL_TCONV_OUTPUT];
    int64_t k = (int64_t)g.filter_h * g.filter_w * g.in_c;
    if (!geom_ok(&g, &b, x, y) || c0 < 0 || n < 0 || c0 + n > g.out_c || k * n > (int64_t)b.nw)
        fail("native: transpose_conv call outside its buffers");
    void *s = scratch_arg(args[3], tconv_scratch(&g, n));
    el_requant q = requant(&b, EL_TCONV_PER_CHANNEL, p[EL_TCONV_INPUT_OFFSET], p[EL_TCONV_OUTPUT_OFFSET],
                           p[EL_TCONV_ACT_MIN], p[EL_TCONV_ACT_MAX], g.out_c);
    el_transpose_conv_s8_range(&g, b.arena + x, b.w, b.arena + y, &q, s, c0, n);
    return (mp_obj_t)mp_fun_table.const_none;
}

/* ---- tconv_scratch_size(p, n): bytes of scratch transpose_conv needs for n output channels */
static mp_obj_t tconv_scratch_size(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    size_t len;
    b.p = get_buf(args[0], &len, EL_BUFFER_READ);
    b.np = len / 4;
    int32_t n = get_int(args[1]);
    el_geom g = tconv_geom(&b);
    return mp_fun_table.native_to_obj(tconv_scratch(&g, n), EL_NATIVE_TYPE_INT);
}

/* ---- scratch_size(p, n): bytes of scratch conv_2d needs for n output channels of
 *      the op with params p on this arch (ARMv7E-M keeps widened weights there; few
 *      input channels take a row strip whose size depends on the geometry) */
static mp_obj_t scratch_size(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    size_t np;
    const int32_t *p = get_buf(args[0], &np, EL_BUFFER_READ);
    int32_t n = get_int(args[1]);
    if (np / 4 < EL_CONV_PER_CHANNEL)
        fail("native: conv_2d params too short");
    el_geom g = EL_GEOM(p, CONV, 1);
    int64_t k = (int64_t)g.filter_h * g.filter_w * g.in_c;
    if (n <= 0 || n > (1 << 16) || g.filter_h <= 0 || g.filter_w <= 0 || g.in_c <= 0 || k > (1 << 20) ||
        g.filter_h > (1 << 10) || g.filter_w > (1 << 10) || g.out_w <= 0 || g.out_w > (1 << 16) ||
        g.stride_w <= 0 || g.stride_w > (1 << 10))
        fail("native: scratch_size on a geometry out of range");
    return mp_fun_table.native_to_obj((uintptr_t)el_conv_range_scratch_bytes(&g, n), EL_NATIVE_TYPE_INT);
}

/* ---- dw_scratch_size(p, n): bytes of scratch depthwise_conv_2d needs for n input
 *      channels of the op with params p (the row strip depends on the geometry) */
static mp_obj_t dw_scratch_size(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    size_t np;
    const int32_t *p = get_buf(args[0], &np, EL_BUFFER_READ);
    int32_t n = get_int(args[1]);
    if (np / 4 < EL_DW_PER_CHANNEL)
        fail("native: depthwise_conv_2d params too short");
    el_geom g = dw_geom(p);
    if (n <= 0 || n > (1 << 16) || g.depth_multiplier <= 0 || g.depth_multiplier > (1 << 12) ||
        g.filter_h <= 0 || g.filter_w <= 0 || g.filter_h > (1 << 10) || g.filter_w > (1 << 10) ||
        g.out_w <= 0 || g.out_w > (1 << 16) || g.stride_w <= 0 || g.stride_w > (1 << 10))
        fail("native: dw_scratch_size on a geometry out of range");
    return mp_fun_table.native_to_obj((uintptr_t)el_depthwise_scratch_bytes(&g, n), EL_NATIVE_TYPE_INT);
}


/* ---- the light ops: (p, arena) only; the C structs are runs of p: each member at its param */
#define EL_RUN(type, member, first, index) \
    _Static_assert(offsetof(type, member) == 4 * ((index) - (first)), #type "." #member " is not its param")
#define EL_POOL_AT(m, M) EL_RUN(el_pool, m, EL_POOL_BATCHES, EL_POOL_##M)
EL_POOL_AT(batches, BATCHES); EL_POOL_AT(in_h, IN_H); EL_POOL_AT(in_w, IN_W); EL_POOL_AT(depth, DEPTH);
EL_POOL_AT(out_h, OUT_H); EL_POOL_AT(out_w, OUT_W); EL_POOL_AT(stride_h, STRIDE_H);
EL_POOL_AT(stride_w, STRIDE_W); EL_POOL_AT(filter_h, FILTER_H); EL_POOL_AT(filter_w, FILTER_W);
EL_POOL_AT(pad_h, PAD_H); EL_POOL_AT(pad_w, PAD_W); EL_POOL_AT(act_min, ACT_MIN); EL_POOL_AT(act_max, ACT_MAX);
_Static_assert(sizeof(el_pool) == 4 * (EL_POOL_ACT_MAX + 1 - EL_POOL_BATCHES), "el_pool");
#define EL_ADD_AT(m, M) EL_RUN(el_add, m, EL_ADD_INPUT1_OFFSET, EL_ADD_##M)
EL_ADD_AT(in1_offset, INPUT1_OFFSET); EL_ADD_AT(in2_offset, INPUT2_OFFSET); EL_ADD_AT(out_offset, OUTPUT_OFFSET);
EL_ADD_AT(left_shift, LEFT_SHIFT); EL_ADD_AT(in1_multiplier, INPUT1_MULTIPLIER); EL_ADD_AT(in1_shift, INPUT1_SHIFT);
EL_ADD_AT(in2_multiplier, INPUT2_MULTIPLIER); EL_ADD_AT(in2_shift, INPUT2_SHIFT);
EL_ADD_AT(out_multiplier, OUTPUT_MULTIPLIER); EL_ADD_AT(out_shift, OUTPUT_SHIFT); EL_ADD_AT(act_min, ACT_MIN);
EL_ADD_AT(act_max, ACT_MAX); EL_ADD_AT(dims, DIMS); EL_ADD_AT(strides1, STRIDES1); EL_ADD_AT(strides2, STRIDES2);
_Static_assert(sizeof(el_add) == 4 * (EL_ADD_LIMBS - EL_ADD_INPUT1_OFFSET), "el_add");
#define EL_MEAN_AT(m, M) EL_RUN(el_mean, m, EL_MEAN_OUTER, EL_MEAN_##M)
EL_MEAN_AT(outer, OUTER); EL_MEAN_AT(count, COUNT); EL_MEAN_AT(inner, INNER); EL_MEAN_AT(input, INPUT);
EL_MEAN_AT(output, OUTPUT); EL_MEAN_AT(bias, BIAS); EL_MEAN_AT(multiplier, MULTIPLIER); EL_MEAN_AT(shift, SHIFT);
EL_MEAN_AT(output_zp, OUTPUT_ZP);
_Static_assert(sizeof(el_mean) == 4 * (EL_MEAN_LIMBS - EL_MEAN_OUTER), "el_mean");

/* p and arena of a two-argument call */
static void bufs2(const mp_obj_t *args, call_bufs *b, size_t need, const char *op) {
    b->p = get_buf(args[0], &b->np, EL_BUFFER_READ);
    b->np /= 4;
    b->arena = get_buf(args[1], &b->na, EL_BUFFER_WRITE);
    b->w = 0;
    b->nw = 0;
    if (b->np < need)
        fail(op);
}

/* product of non-negative factors, -1 when one is negative, capped far above any arena */
static int64_t prod(int32_t a, int32_t b, int32_t c, int32_t d) {
    if (a < 0 || b < 0 || c < 0 || d < 0)
        return -1;
    int64_t r = (int64_t)a * b;
    if (r > (1LL << 31))
        return 1LL << 40;
    r *= c;
    if (r > (1LL << 31))
        return 1LL << 40;
    return r * d;
}

static const char BAD[] = "native: call outside its buffers";

/* pool_2d: MODE, el_pool, INPUT, OUTPUT */
static mp_obj_t pool_2d(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    bufs2(args, &b, EL_POOL_OUTPUT + 1, "native: pool_2d params too short");
    const el_pool *g = (const el_pool *)(b.p + EL_POOL_BATCHES);
    int32_t x = b.p[EL_POOL_INPUT], y = b.p[EL_POOL_OUTPUT];
    if (g->filter_h <= 0 || g->filter_w <= 0 || g->stride_h <= 0 || g->stride_w <= 0 || g->pad_h < 0 ||
        g->pad_w < 0 || g->filter_h > (1 << 16) || g->filter_w > (1 << 16) ||
        !inside(x, prod(g->batches, g->in_h, g->in_w, g->depth), b.na) ||
        !inside(y, prod(g->batches, g->out_h, g->out_w, g->depth), b.na) ||
        prod(g->out_h, g->stride_h, 1, 1) > (1 << 24) || prod(g->out_w, g->stride_w, 1, 1) > (1 << 24))
        fail(BAD);
    el_pool_2d_s8(g, b.p[EL_POOL_MODE] == 1, b.arena + x, b.arena + y);
    return (mp_obj_t)mp_fun_table.const_none;
}

/* the furthest byte a broadcast input reaches, -1 on negative strides */
static int64_t reach(const int32_t *dims, const int32_t *strides) {
    int64_t r = 0;
    for (int i = 0; i < 4; i++) {
        if (strides[i] < 0 || strides[i] > (1 << 24))
            return -1;
        r += (int64_t)(dims[i] - 1) * strides[i];
    }
    return r + 1;
}

/* add: N, BROADCAST, INPUT1, INPUT2, OUTPUT, el_add, the limbs (for the portable level) */
static mp_obj_t add(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    bufs2(args, &b, EL_ADD_LIMBS, "native: add params too short");
    const int32_t *p = b.p;
    const el_add *a = (const el_add *)(p + EL_ADD_INPUT1_OFFSET);
    int32_t n = p[EL_ADD_N], broadcast = p[EL_ADD_BROADCAST];
    int32_t x1 = p[EL_ADD_INPUT1], x2 = p[EL_ADD_INPUT2], y = p[EL_ADD_OUTPUT];
    int64_t n1 = n, n2 = n;
    if (broadcast) {
        const int32_t *d = a->dims;
        if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || d[3] <= 0 || prod(d[0], d[1], d[2], d[3]) != n)
            fail(BAD);
        n1 = reach(d, a->strides1);
        n2 = reach(d, a->strides2);
    }
    if (n < 0 || a->left_shift < 0 || a->left_shift > 22 || !inside(x1, n1, b.na) ||
        !inside(x2, n2, b.na) || !inside(y, n, b.na))
        fail(BAD);
    el_add_s8(a, n, broadcast != 0, b.arena + x1, b.arena + x2, b.arena + y);
    return (mp_obj_t)mp_fun_table.const_none;
}

/* mean: el_mean, then the limbs (for the portable level) */
static mp_obj_t mean(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    bufs2(args, &b, EL_MEAN_LIMBS, "native: mean params too short");
    const el_mean *m = (const el_mean *)(b.p + EL_MEAN_OUTER);
    if (!inside(m->input, prod(m->outer, m->count, m->inner, 1), b.na) ||
        !inside(m->output, prod(m->outer, m->inner, 1, 1), b.na))
        fail(BAD);
    el_mean_s8(m, b.arena + m->input, b.arena + m->output);
    return (mp_obj_t)mp_fun_table.const_none;
}

/* lut8: SCRATCH holds the table, already read from the file */
static mp_obj_t lut8(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    bufs2(args, &b, EL_LUT8_SCRATCH + 1, "native: lut8 params too short");
    const int32_t *p = b.p;
    int32_t n = p[EL_LUT8_N], t = p[EL_LUT8_SCRATCH], x = p[EL_LUT8_INPUT], y = p[EL_LUT8_OUTPUT];
    if (!inside(t, 256, b.na) || !inside(x, n, b.na) || !inside(y, n, b.na))
        fail(BAD);
    el_lut8_s8(b.arena + t, b.arena + x, b.arena + y, n);
    return (mp_obj_t)mp_fun_table.const_none;
}

#define EL_MAX_CONCAT 32

/* concatenation: OUTER, OUTPUT, N_INPUTS, then (INPUT, SIZE) per input */
static mp_obj_t concatenation(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    bufs2(args, &b, EL_CONCAT_INPUTS, "native: concatenation params too short");
    const int32_t *p = b.p;
    int32_t k = p[EL_CONCAT_N_INPUTS], outer = p[EL_CONCAT_OUTER];
    if (k < 1 || k > EL_MAX_CONCAT || b.np < EL_CONCAT_INPUTS + EL_CONCAT_INPUTS_STEP * (size_t)k)
        fail("native: concatenation takes 1 to 32 inputs");
    const int8_t *xs[EL_MAX_CONCAT];
    int32_t sizes[EL_MAX_CONCAT];
    int64_t total = 0;
    for (int32_t i = 0; i < k; i++) {
        const int32_t *u = p + EL_CONCAT_INPUTS + EL_CONCAT_INPUTS_STEP * i;
        int32_t at = u[EL_CONCAT_INPUT], size = u[EL_CONCAT_SIZE];
        if (!inside(at, prod(outer, size, 1, 1), b.na))
            fail(BAD);
        xs[i] = b.arena + at;
        sizes[i] = size;
        total += size;
    }
    if (total > (1 << 30) || !inside(p[EL_CONCAT_OUTPUT], prod(outer, (int32_t)total, 1, 1), b.na))
        fail(BAD);
    el_concat_s8(outer, k, xs, sizes, b.arena + p[EL_CONCAT_OUTPUT]);
    return (mp_obj_t)mp_fun_table.const_none;
}

/* softmax: SCRATCH holds the exp table, already read from the file (COUNT little-endian int32) */
static mp_obj_t softmax(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    bufs2(args, &b, EL_SOFTMAX_SCRATCH + 1, "native: softmax params too short");
    const int32_t *p = b.p;
    int32_t outer = p[EL_SOFTMAX_OUTER], depth = p[EL_SOFTMAX_DEPTH], count = p[EL_SOFTMAX_COUNT];
    int32_t t = p[EL_SOFTMAX_SCRATCH], x = p[EL_SOFTMAX_INPUT], y = p[EL_SOFTMAX_OUTPUT];
    int64_t n = prod(outer, depth, 1, 1);
    if (depth <= 0 || count < 1 || count > 256 || !inside(t, 4 * (int64_t)count, b.na) || !inside(x, n, b.na) ||
        !inside(y, n, b.na))
        fail(BAD);
    el_softmax_s8(outer, depth, (const uint8_t *)b.arena + t, count, b.arena + x, b.arena + y);
    return (mp_obj_t)mp_fun_table.const_none;
}

#define EL_BMM_AT(m, M) EL_RUN(el_bmm, m, EL_BMM_BATCHES, EL_BMM_##M)
EL_BMM_AT(batches, BATCHES); EL_BMM_AT(rows, ROWS); EL_BMM_AT(cols, COLS); EL_BMM_AT(depth, DEPTH);
EL_BMM_AT(lhs, LHS); EL_BMM_AT(lhs_batch, LHS_BATCH); EL_BMM_AT(lhs_row, LHS_ROW); EL_BMM_AT(lhs_k, LHS_K);
EL_BMM_AT(rhs, RHS); EL_BMM_AT(rhs_batch, RHS_BATCH); EL_BMM_AT(rhs_k, RHS_K); EL_BMM_AT(rhs_col, RHS_COL);
EL_BMM_AT(output, OUTPUT); EL_BMM_AT(lhs_offset, LHS_OFFSET); EL_BMM_AT(rhs_offset, RHS_OFFSET);
EL_BMM_AT(output_offset, OUTPUT_OFFSET); EL_BMM_AT(multiplier, MULTIPLIER); EL_BMM_AT(shift, SHIFT);
_Static_assert(sizeof(el_bmm) == 4 * (EL_BMM_LIMBS - EL_BMM_BATCHES), "el_bmm");

/* the byte past the furthest an operand at `at` reaches over dims n[i] with strides s[i]; -1 when a
 * dimension or stride is out of range */
static int64_t bmm_reach(int32_t at, const int32_t *n, const int32_t *s) {
    int64_t r = at;
    for (int i = 0; i < 4; i++) {
        if (n[i] <= 0 || n[i] > (1 << 24) || s[i] < 0 || s[i] > (1 << 24))
            return -1;
        r += (int64_t)(n[i] - 1) * s[i];
    }
    return r + 1;
}

/* the params as el_bmm, every read and write checked against the arena */
static const el_bmm *bmm_checked(const mp_obj_t *args, call_bufs *b) {
    bufs2(args, b, EL_BMM_LIMBS, "native: batch_matmul params too short");
    const el_bmm *m = (const el_bmm *)(b->p + EL_BMM_BATCHES);
    const int32_t nl[4] = {m->batches[0], m->batches[1], m->rows, m->depth};
    const int32_t sl[4] = {m->lhs_batch[0], m->lhs_batch[1], m->lhs_row, m->lhs_k};
    const int32_t nr[4] = {m->batches[0], m->batches[1], m->cols, m->depth};
    const int32_t sr[4] = {m->rhs_batch[0], m->rhs_batch[1], m->rhs_col, m->rhs_k};
    int64_t rl = bmm_reach(m->lhs, nl, sl), rr = bmm_reach(m->rhs, nr, sr);
    if (rl < 0 || rr < 0 || m->lhs < 0 || m->rhs < 0 || rl > (int64_t)b->na || rr > (int64_t)b->na ||
        (int64_t)m->cols * m->depth > (1 << 28) ||
        !inside(m->output, prod(m->batches[0], m->batches[1], m->rows, m->cols), b->na))
        fail(BAD);
    return m;
}

/* batch_matmul: el_bmm, then the limbs (for the portable level); scratch from bmm_scratch_size */
static mp_obj_t batch_matmul(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    const el_bmm *m = bmm_checked(args, &b);
    void *s = scratch_arg(args[2], el_batch_matmul_scratch_bytes(m));
    el_batch_matmul_s8(m, b.arena, s);
    return (mp_obj_t)mp_fun_table.const_none;
}

static mp_obj_t bmm_scratch_size(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    call_bufs b;
    b.p = get_buf(args[0], &b.np, EL_BUFFER_READ);
    b.np /= 4;
    if (b.np < EL_BMM_LIMBS)
        fail("native: batch_matmul params too short");
    const el_bmm *m = (const el_bmm *)(b.p + EL_BMM_BATCHES);
    if (m->cols <= 0 || m->depth <= 0 || m->cols > (1 << 24) || (int64_t)m->cols * m->depth > (1 << 28))
        fail(BAD);
    return mp_fun_table.native_to_obj(el_batch_matmul_scratch_bytes(m), EL_NATIVE_TYPE_INT);
}

/* mat_vec(w, at, stride, rows, v, v_at, n, out, o): the rows' raw int32 sums against v's n bytes */
static mp_obj_t mat_vec(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    size_t nw, nv, no;
    const int8_t *w = get_buf(args[0], &nw, EL_BUFFER_READ);
    int32_t at = get_int(args[1]), stride = get_int(args[2]), rows = get_int(args[3]);
    const int8_t *v = get_buf(args[4], &nv, EL_BUFFER_READ);
    int32_t v_at = get_int(args[5]), n = get_int(args[6]);
    int32_t *out = get_buf(args[7], &no, EL_BUFFER_WRITE);
    int32_t o = get_int(args[8]);
    if (rows < 0 || n < 0 || stride < 0 || ((uintptr_t)out & 3) || !inside(v_at, n, nv) ||
        !inside(o, rows, no / 4) || (rows && !inside(at, (int64_t)(rows - 1) * stride + n, nw)))
        fail(BAD);
    el_mat_vec_s8(w + at, stride, rows, v + v_at, n, out + o);
    return (mp_obj_t)mp_fun_table.const_none;
}

#include "el_audio_glue.h" /* audio_frame, audio_work_size: the keyword front end */

/* Function objects: their type pointer is patched by the loader (mp_fun_table[81]). */
static const el_fun_var fc_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(3, 6), fully_connected};
static const el_fun_var conv_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(6, 7), conv_2d};
static const el_fun_var dw_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(6, 7), depthwise_conv_2d};
static const el_fun_var size_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), scratch_size};
static const el_fun_var dw_size_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), dw_scratch_size};
static const el_fun_var pool_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), pool_2d};
static const el_fun_var add_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), add};
static const el_fun_var mean_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), mean};
static const el_fun_var lut8_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), lut8};
static const el_fun_var concat_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), concatenation};
static const el_fun_var softmax_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), softmax};
static const el_fun_var tconv_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(6, 7), transpose_conv};
static const el_fun_var tconv_size_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), tconv_scratch_size};
static const el_fun_var bmm_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(3, 3), batch_matmul};
static const el_fun_var bmm_size_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(1, 1), bmm_scratch_size};
static const el_fun_var mat_vec_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(9, 9), mat_vec};

/* The entry point: the linker puts this function at offset 0 of the text, where
 * the loader starts the module (as a viper function called with self first). */
mp_obj_t mpy_init(const el_fun_bc *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    (void)n_args; (void)n_kw; (void)args;
    void *old = mp_fun_table.swap_globals(self->context->globals);
    mp_fun_table.store_global(mp_native_qstr_table[Q_fully_connected], (mp_obj_t)&fc_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_conv_2d], (mp_obj_t)&conv_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_depthwise_conv_2d], (mp_obj_t)&dw_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_scratch_size], (mp_obj_t)&size_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_dw_scratch_size], (mp_obj_t)&dw_size_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_pool_2d], (mp_obj_t)&pool_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_add], (mp_obj_t)&add_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_mean], (mp_obj_t)&mean_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_lut8], (mp_obj_t)&lut8_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_concatenation], (mp_obj_t)&concat_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_softmax], (mp_obj_t)&softmax_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_audio_frame], (mp_obj_t)&audio_frame_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_audio_work_size], (mp_obj_t)&audio_work_size_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_transpose_conv], (mp_obj_t)&tconv_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_tconv_scratch_size], (mp_obj_t)&tconv_size_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_batch_matmul], (mp_obj_t)&bmm_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_bmm_scratch_size], (mp_obj_t)&bmm_size_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_mat_vec], (mp_obj_t)&mat_vec_obj);
    mp_fun_table.store_global(mp_native_qstr_table[Q_API],
                              mp_fun_table.native_to_obj(EL_API, EL_NATIVE_TYPE_INT));
    mp_fun_table.swap_globals(old);
    return (mp_obj_t)mp_fun_table.const_none;
}
