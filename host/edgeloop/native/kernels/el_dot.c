/* The multiply-accumulate loops, one per target.
 *
 * All three ops reduce to "four weight rows against one int8 vector", so the
 * hot loop lives here once and the target decides how it is written:
 * - Cortex-M4/M7 (__ARM_FEATURE_DSP): el_dot4_v7em.S (32-bit loads, SXTB16
 *   splits a word into its even and odd bytes as two int16 pairs, SMLAD
 *   does two MACs; the input word is split once and shared by four rows).
 *   Hand-written because gcc 12 spills the sums and does not fold the
 *   rotate into SXTB16; el_dot1_s8 stays in C with the ACLE intrinsics.
 * - ARMv6-M (Cortex-M0/M0+, RP2040): el_dot4_v6m.S (hand-scheduled: one
 *   input byte, then LDRSB/MULS/ADD per row with the sums in r8-r11).
 * - anything else (x64, xtensa, RISC-V): plain C the compiler vectorises.
 * The sums are exact int32 sums in every variant, so the bytes agree.
 */
#include "el_kernels.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)
#include <arm_acle.h>

static inline uint32_t ld32(const int8_t *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4); /* an unaligned LDR: allowed on ARMv7E-M */
    return v;
}

static inline uint32_t ror8(uint32_t v) {
    return (v >> 8) | (v << 24); /* folds into SXTB16's ROR #8 operand */
}

void el_dot4_v7em(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n8, int32_t *acc);

void el_dot4_s8(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n, int32_t *acc) {
    int32_t n8 = n >> 3;
    if (n8)
        el_dot4_v7em(x, w, wstride, n8, acc);
    int32_t done = n8 << 3;
    if (done < n) {
        const int8_t *w0 = w + done, *w1 = w0 + wstride, *w2 = w1 + wstride, *w3 = w2 + wstride;
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        for (int32_t k = done; k < n; k++) {
            int32_t v = x[k];
            a0 += v * *w0++; a1 += v * *w1++; a2 += v * *w2++; a3 += v * *w3++;
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
    }
}

int32_t el_dot1_s8(const int8_t *x, const int8_t *w, int32_t n) {
    int32_t a = 0;
    int32_t k = n >> 2;
    while (k--) {
        uint32_t u = ld32(x), v = ld32(w);
        x += 4; w += 4;
        a = __smlad(__sxtb16(u), __sxtb16(v), a);
        a = __smlad(__sxtb16(ror8(u)), __sxtb16(ror8(v)), a);
    }
    for (k = n & 3; k; k--)
        a += *x++ * *w++;
    return a;
}

#elif defined(__ARM_ARCH_6M__) && !defined(EL_PORTABLE)

void el_dot4_v6m(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n, int32_t *acc);

void el_dot4_s8(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n, int32_t *acc) {
    if (n > 0)
        el_dot4_v6m(x, w, wstride, n, acc);
}

int32_t el_dot1_s8(const int8_t *x, const int8_t *w, int32_t n) {
    /* Negative index to zero: LDRSB takes a register offset, the count is the index. */
    int32_t a = 0;
    x += n;
    w += n;
    for (int32_t i = -n; i; i++)
        a += x[i] * w[i];
    return a;
}

#endif

#if !(defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE))
/* Only ARMv7E-M widens weights (el_dot4w_v7em.S); this C keeps the symbol
 * defined and documents the layout: per 4 taps, (w0, w2) then (w1, w3). */
void el_dot4w_s8(const int8_t *x, const int16_t *w16, int32_t wstride, int32_t n4, int32_t *acc) {
    for (int32_t r = 0; r < 4; r++) {
        const int16_t *w = (const int16_t *)((const int8_t *)w16 + r * wstride);
        int32_t a = acc[r];
        for (int32_t i = 0; i < n4; i++, w += 4)
            a += x[4 * i] * w[0] + x[4 * i + 2] * w[1] + x[4 * i + 1] * w[2] + x[4 * i + 3] * w[3];
        acc[r] = a;
    }
}
#endif

#if !(defined(__ARM_FEATURE_DSP) && defined(__ARM_ARCH) && !defined(EL_PORTABLE)) && \
    !(defined(__ARM_ARCH_6M__) && !defined(EL_PORTABLE))

void el_dot4_s8(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n, int32_t *acc) {
    const int8_t *w0 = w, *w1 = w + wstride, *w2 = w1 + wstride, *w3 = w2 + wstride;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t k = 0; k < n; k++) {
        int32_t v = x[k];
        a0 += v * w0[k]; a1 += v * w1[k]; a2 += v * w2[k]; a3 += v * w3[k];
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}

int32_t el_dot1_s8(const int8_t *x, const int8_t *w, int32_t n) {
    int32_t a = 0;
    for (int32_t k = 0; k < n; k++)
        a += x[k] * w[k];
    return a;
}

#endif

/* Raw sums for a caller that requantizes them itself (the LSTM's gates: TFLM takes each
 * half of a gate to int16 with its own multiplier). Every row goes through the target's
 * el_dot4_s8 in blocks of four, summing straight into out (no local array: gcc may
 * zero one through a VFP register, which a bare-metal M7 leaves off). */
void el_mat_vec_s8(const int8_t *w, int32_t stride, int32_t rows, const int8_t *x, int32_t n, int32_t *out) {
    int32_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        out[r] = out[r + 1] = out[r + 2] = out[r + 3] = 0;
        el_dot4_s8(x, w + r * stride, stride, n, out + r);
    }
    for (; r < rows; r++)
        out[r] = el_dot1_s8(x, w + r * stride, n);
}
