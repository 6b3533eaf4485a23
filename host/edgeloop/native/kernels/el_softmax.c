/* SOFTMAX int8 -> int8: tflite::reference_ops::Softmax (gemmlowp fixed point).
 *
 * Why the exp values come in as a table: an int8 row's exp() terms depend only
 * on k = max(row) - x in [0, 255], so the host evaluates TFLM's
 * exp_on_negative_values for every k (edgeloop/convert/ops/softmax.py) and the
 * runtime reads that table from the model file into the op's scratch, as the
 * portable kernel does. What is left per row is TFLM's sum in Q12.19, one
 * Newton-Raphson reciprocal (GetReciprocal) and one rounding high product per
 * element; the portable kernel needs 11-bit limbs for these on a 32-bit board,
 * C has int64. The table is bytes (little-endian int32) because the scratch
 * offset in the arena need not be word aligned.
 */
#include "el_kernels.h"

#define I32_MIN (-2147483647 - 1)
#define I32_MAX 2147483647

/* gemmlowp SaturatingRoundingDoublingHighMul: floor((ab + 2^30) / 2^31) for
 * both signs (see el_ops.c's srdhm64), INT32_MIN squared saturates. */
static int32_t srdhm(int32_t a, int32_t b) {
    if (a == I32_MIN && b == I32_MIN)
        return I32_MAX;
    return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT for e >= 1. e reaches 32 or 33 only when the
 * row's sum passes 2^29 (rows over 1024 values); any |x| < 2^31 then rounds
 * to 0, where C's shift would be undefined. */
static int32_t rdbpot(int32_t x, int32_t e) {
    if (e >= 32)
        return 0;
    uint32_t rem = (uint32_t)x & ((1u << e) - 1u);
    return (x >> e) + (int32_t)((rem + (1u << (e - 1)) + (uint32_t)(x >> 31)) >> e);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<e>, e >= 1 */
static int32_t sat_shl(int32_t x, int32_t e) {
    int32_t threshold = (int32_t)((1u << (31 - e)) - 1u);
    if (x > threshold)
        return I32_MAX;
    if (x < -threshold)
        return I32_MIN;
    return (int32_t)((uint32_t)x << e);
}

/* FixedPoint's + and - wrap (raw int32 arithmetic) */
static int32_t wadd(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t wsub(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* tflite::GetReciprocal(sum, 12, &bits): one_over_one_plus_x_for_x_in_0_1 on
 * the sum shifted to [1, 2), as Q0.31; sum > 0. */
static int32_t reciprocal(uint32_t sum, int32_t *bits_over_unit) {
    int32_t headroom_plus_one = 0;
    while (headroom_plus_one < 31 && !(sum << headroom_plus_one & 0x80000000u)) /* 0 only from a zeroed table */
        headroom_plus_one++;
    *bits_over_unit = 12 - headroom_plus_one;
    int32_t a = (int32_t)((sum << headroom_plus_one) - 0x80000000u);
    int64_t s = (int64_t)a + I32_MAX; /* RoundingHalfSum(a, F0::One()) */
    int32_t half_denominator = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
    int32_t x = wadd(1515870810, srdhm(half_denominator, -1010580540)); /* 48/17 - 32/17 d, Q2.29 */
    for (int i = 0; i < 3; i++) {
        int32_t one_minus = wsub(1 << 29, srdhm(half_denominator, x));
        x = wadd(x, sat_shl(srdhm(x, one_minus), 2));
    }
    return sat_shl(x, 1); /* Rescale<0>(ExactMulByPot<-1>(x)) */
}

static int32_t exp_at(const uint8_t *table, int32_t k) {
    const uint8_t *t = table + 4 * k;
    return (int32_t)((uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24);
}

void el_softmax_s8(int32_t outer, int32_t depth, const uint8_t *table, int32_t count, const int8_t *x,
                   int8_t *y) {
    for (int32_t i = 0; i < outer; i++, x += depth, y += depth) {
        int32_t top = -128;
        for (int32_t c = 0; c < depth; c++)
            if (x[c] > top)
                top = x[c];
        uint32_t sum = 0; /* Q12.19: Rescale<12> of each Q0.31 exp */
        for (int32_t c = 0; c < depth; c++) {
            int32_t k = top - x[c];
            if (k < count)
                sum += (uint32_t)rdbpot(exp_at(table, k), 12);
        }
        int32_t bits;
        int32_t scale = reciprocal(sum, &bits);
        for (int32_t c = 0; c < depth; c++) {
            int32_t k = top - x[c], v = -128;
            if (k < count) {
                v = rdbpot(srdhm(scale, exp_at(table, k)), bits + 23) - 128;
                if (v > 127)
                    v = 127;
                if (v < -128)
                    v = -128;
            }
            y[c] = (int8_t)v;
        }
    }
}
