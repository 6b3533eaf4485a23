@ ARMv7E-M (Cortex-M4/M7, DSP extension): acc[r] += sum_k x[k] * w[r * wstride + k], r = 0..3.
@ void el_dot4_v7em(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n8, int32_t *acc)
@ n8 = number of 8-byte steps (> 0); the caller does the tail.
@ One input word is split once by SXTB16 into its even and odd bytes (two
@ int16 pairs) and shared by the four rows; per row and word: LDR with
@ post-increment, two SXTB16 (the second with ROR #8), two SMLAD.
@ 48 instructions per 32 MACs. LDR tolerates unaligned rows on ARMv7-M.
@ Registers: x r0, rows r1 r4 r5 r6, count r3, sums r7-r10, input pairs
@ r11 r12, temporaries r2 lr.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dot4_v7em
    .type el_dot4_v7em, %function
    .thumb_func
el_dot4_v7em:
    push {r4-r11, lr}
    ldr lr, [sp, #36]
    adds r4, r1, r2
    adds r5, r4, r2
    adds r6, r5, r2
    ldm lr, {r7-r10}
    .macro ROW w, a
    ldr r2, [\w], #4
    sxtb16 lr, r2
    sxtb16 r2, r2, ror #8
    smlad \a, lr, r11, \a
    smlad \a, r2, r12, \a
    .endm
    .macro STEP
    ldr r2, [r0], #4
    sxtb16 r11, r2
    sxtb16 r12, r2, ror #8
    ROW r1, r7
    ROW r4, r8
    ROW r5, r9
    ROW r6, r10
    .endm
1:
    STEP
    STEP
    subs r3, r3, #1
    bne 1b
    ldr lr, [sp, #36]
    stm lr, {r7-r10}
    pop {r4-r11, pc}
    .size el_dot4_v7em, . - el_dot4_v7em
