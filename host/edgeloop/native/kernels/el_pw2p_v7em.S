@ ARMv7E-M (Cortex-M4/M7): a 1x1 conv over two pixels per call, requantized in
@ the call (el_ops.c's conv_pairs takes every pixel of a 1x1 conv whose
@ channels all admit the short requantization, el_requant_sat_v7em.S).
@ void el_pw2p_v7em(const int8_t *x0, const int8_t *x1, int32_t n4, int8_t *y,
@                   const int32_t *wp, int32_t nb, int32_t ystride, int32_t *pairs)
@ x0, x1: the two pixels' 4 n4 input channels (n4 > 0); y: pixel 0's first
@ output, pixel 1's at y + ystride (0 when both are one pixel); nb (> 0)
@ blocks of 2 rows; pairs: 16 n4 bytes of scratch.
@ Why two pixels and two rows: a step of 4 taps needs the two pixels'
@ SXTB16 pairs (4 words) and the two rows' int16 weight pairs (4 words),
@ one LDM each, for 8 SMLAD: 10 instructions per 16 MACs against the
@ one-pixel four-row loop's 11, and 4 sums, 4 pixel and 4 weight registers
@ plus the two pointers fill r0-r12 and lr exactly. So no register is left
@ for a counter: the steps are unrolled 16 times, a call enters them part
@ way for n4 mod 16 and loops over the whole 16 while the pixel pointer is
@ short of its end.
@ The sums end in registers, so each is requantized right there (5
@ instructions instead of 11 plus a store and a load): the weights are
@ doubled (|2w| <= 256 is an int16) and the folded bias too, so a block's
@ sums are the 2a that SMMLAR needs (|a| < 2^30, el_ops.c's sat_ok):
@   out = SSAT8((SMMLAR(2a, m, c) - (2a < 0)) >> e)
@ wp, per block of rows a, b: 2fa, 2fb, 2fa, 2fb; per step a's (2w0, 2w2),
@ (2w1, 2w3), then b's; then ca, ea, ma, cb, eb, mb (el_ops.c's pair_stream).
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_pw2p_v7em
    .type el_pw2p_v7em, %function
    .thumb_func
el_pw2p_v7em:
    push {r4-r11, lr}
    sub sp, #24                 @ [sp] pairs, [sp, #4] entry, [sp, #8] end of pairs,
                                @ [sp, #12] y0, [sp, #16] y1, [sp, #20] end of y0
    ldr r12, [sp, #72]          @ pairs
    mov lr, r12
    mov r8, r2
3:                              @ the pixels' SXTB16 pairs, 4 taps of both per step
    ldr r4, [r0], #4
    ldr r6, [r1], #4
    sxtb16 r5, r4, ror #8
    sxtb16 r4, r4
    sxtb16 r7, r6, ror #8
    sxtb16 r6, r6
    stm lr!, {r4-r7}
    subs r8, r8, #1
    bne 3b
    str r12, [sp]
    str lr, [sp, #8]
    ands r4, r2, #15            @ steps of the first pass: n4 mod 16, or 16
    it eq
    moveq r4, #16
    adr r5, 2f
    add r4, r4, r4, lsl #2
    sub r5, r5, r4, lsl #3      @ 40 bytes a step
    orr r5, r5, #1
    str r5, [sp, #4]
    ldr r6, [sp, #68]           @ ystride
    add r7, r3, r6
    strd r3, r7, [sp, #12]
    ldr r4, [sp, #64]           @ nb
    add r4, r3, r4, lsl #1
    str r4, [sp, #20]
    ldr r1, [sp, #60]           @ wp
    .macro STEP2
    ldm.w r0!, {r2-r5}          @ pixel 0's pairs, pixel 1's
    ldm.w r1!, {r6-r9}          @ row a's pairs, row b's
    smlad r10, r2, r6, r10
    smlad r10, r3, r7, r10
    smlad r11, r2, r8, r11
    smlad r11, r3, r9, r11
    smlad r12, r4, r6, r12
    smlad r12, r5, r7, r12
    smlad lr, r4, r8, lr
    smlad lr, r5, r9, lr
    .endm
    .macro OUT s, c, e, m, y
    sub r0, \c, \s, lsr #31
    smmlar r0, \s, \m, r0
    asr r0, r0, \e
    ssat r0, #8, r0
    strb r0, [\y], #1
    .endm
4:
    ldm r1!, {r10, r11, r12, lr} @ sums a0, b0, a1, b1 from the doubled folds
    ldrd r0, r2, [sp]
    bx r2
1:
    .rept 16
    STEP2
    .endr
2:
    .if 2b - 1b - 640
    .error "a step must be 40 bytes (the entry arithmetic)"
    .endif
    ldr r2, [sp, #8]
    cmp r0, r2
    bne 1b
    ldm r1!, {r2-r7}            @ ca, ea, ma, cb, eb, mb
    ldrd r8, r9, [sp, #12]
    OUT r10, r2, r3, r4, r8
    OUT r12, r2, r3, r4, r9
    OUT r11, r5, r6, r7, r8
    OUT lr, r5, r6, r7, r9
    strd r8, r9, [sp, #12]
    ldr r2, [sp, #20]
    cmp r8, r2
    bne 4b
    add sp, #24
    pop {r4-r11, pc}
    .size el_pw2p_v7em, . - el_pw2p_v7em
