@ ARMv7E-M (Cortex-M4/M7, DSP extension), depthwise on the row strip (el_dw.c):
@ acc[r] += sum_t x[t] * w_r[t], r = 0..3, x and w int16.
@ void el_dw4_v7em(const int16_t *x, const int16_t *w, int32_t kp, int32_t *acc)
@ kp (> 0) is a multiple of 4; x and w word aligned. Per block of 4 taps the
@ weights are row 0's four, then rows 1, 2, 3 (16 halfwords), so one LDRD
@ brings the taps as two pairs, two LDM the four rows' pairs, and eight
@ SMLAD do 16 MACs: 11 instructions, 24 per 32 MACs with the loop
@ (unrolled twice; an odd block count enters at the second half).
@ Registers: x r0, w r1, count r2, x pairs r3 r12, weights r4-r7,
@ sums r8-r11, acc pointer lr.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dw4_v7em
    .type el_dw4_v7em, %function
    .thumb_func
el_dw4_v7em:
    push {r4-r11, lr}
    mov lr, r3
    ldm lr, {r8-r11}
    .macro BLOCK
    ldrd r3, r12, [r0], #8
    ldm r1!, {r4-r7}
    smlad r8, r3, r4, r8
    smlad r8, r12, r5, r8
    smlad r9, r3, r6, r9
    smlad r9, r12, r7, r9
    ldm r1!, {r4-r7}
    smlad r10, r3, r4, r10
    smlad r10, r12, r5, r10
    smlad r11, r3, r6, r11
    smlad r11, r12, r7, r11
    .endm
    lsrs r2, r2, #3         @ pairs of blocks; carry = one more block
    bcc 1f
    adds r2, r2, #1
    b 2f
1:
    BLOCK
2:
    BLOCK
    subs r2, r2, #1
    bne 1b
    stm lr, {r8-r11}
    pop {r4-r11, pc}
    .size el_dw4_v7em, . - el_dw4_v7em
