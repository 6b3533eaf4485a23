@ ARMv7E-M (Cortex-M4/M7, DSP extension), conv and depthwise:
@ acc[r] += sum_k x[k] * w16[r][k], r = 0..3, weights already widened to int16.
@ void el_dot4w_s8(const int8_t *x, const int16_t *w16, int32_t wstride_bytes, int32_t n4, int32_t *acc)
@ n4 = number of 4-tap steps (> 0). Per step of a row the widened weights are
@ two words, the pairs (w0, w2) and (w1, w3), which match SXTB16's split of
@ the input word into its even and odd bytes. So the input word is split
@ once (LDR, 2 SXTB16) for four rows and each row costs LDRD + 2 SMLAD:
@ 15 instructions per 16 MACs, 32 per 32 with the loop (unrolled twice, an
@ odd count enters at the second half). The rows must be word aligned (LDRD).
@ Registers: x r0, rows r1 r4 r5 r6, count r3, sums r7-r10, input pairs r11
@ r12, weight pair r2 lr.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dot4w_s8
    .type el_dot4w_s8, %function
    .thumb_func
el_dot4w_s8:
    push {r4-r11, lr}
    ldr lr, [sp, #36]
    adds r4, r1, r2
    adds r5, r4, r2
    adds r6, r5, r2
    ldm lr, {r7-r10}
    .macro ROWW w, a
    ldrd r2, lr, [\w], #8
    smlad \a, r11, r2, \a
    smlad \a, r12, lr, \a
    .endm
    .macro STEPW
    ldr r2, [r0], #4
    sxtb16 r11, r2
    sxtb16 r12, r2, ror #8
    ROWW r1, r7
    ROWW r4, r8
    ROWW r5, r9
    ROWW r6, r10
    .endm
    lsrs r3, r3, #1         @ pairs of steps; carry = odd count
    bcc 1f
    adds r3, r3, #1
    b 2f
1:
    STEPW
2:
    STEPW
    subs r3, r3, #1
    bne 1b
    ldr lr, [sp, #36]
    stm lr, {r7-r10}
    pop {r4-r11, pc}
    .size el_dot4w_s8, . - el_dot4w_s8
