@ ARMv6-M (Cortex-M0/M0+): requantize `n` int32 sums into int8 (TFLM's
@ MultiplyByQuantizedMultiplier, then output offset and clamp).
@ void el_requant_v6m(const int32_t *acc, const int32_t *chan, int32_t n, int8_t *out, const int32_t *o)
@ chan points at the first channel's `bl` (el_ops.c's el_chan, 8 words per
@ channel: fold, mult, bl, bh, lshift, rshift, mask, half); o = {offset, min, max}.
@ The high product of gemmlowp's SaturatingRoundingDoublingHighMul comes from
@ four 16x16 MULS as in el_ops.c's srdhm16 (the caller takes the C path when
@ a multiplier is INT32_MIN, the one saturating case). About 45 instructions
@ per output instead of a call to libgcc's 64-bit multiply; when the shifted
@ sum fits 16 bits (most of a small window's outputs) two MULS give the same
@ floor (srdhm16's short case) and the output costs about 31.
@ Registers: chan r0, work r1-r5, out r6, acc r7; 2^14 r8, end r10, offset r11,
@ min r12, max lr.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_requant_v6m
    .type el_requant_v6m, %function
    .thumb_func
el_requant_v6m:
    push {r4-r7, lr}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    push {r4-r7}
    mov r7, r0              @ acc
    mov r0, r1              @ chan
    mov r6, r3              @ out
    adds r2, r3, r2
    mov r10, r2             @ out end
    ldr r4, [sp, #36]       @ o
    ldm r4!, {r1-r3}
    mov r11, r1
    mov r12, r2
    mov lr, r3
    movs r1, #1
    lsls r1, r1, #14
    mov r8, r1              @ 2^14, the rounding nudge 2^30 / 2^16
1:
    ldm r7!, {r1}           @ a
    ldm r0!, {r2-r4}        @ bl, bh, lshift
    lsls r1, r1, r4
    sxth r4, r1
    cmp r4, r1
    bne 7f                  @ a needs more than 16 bits
    muls r3, r1, r3         @ a * bh
    muls r2, r1, r2         @ a * bl (fits: |a| <= 2^15, bl < 2^16)
    asrs r2, r2, #16
    adds r1, r3, r2
    add r1, r8
    asrs r1, r1, #15        @ v = (a bh + (a bl >> 16) + 2^14) >> 15
2:
    ldm r0!, {r2-r4}        @ e, mask, half
    cmp r2, #0
    beq 3f
    movs r5, r1
    asrs r5, r5, r2         @ v >> e
    ands r3, r1             @ rem
    adds r3, r3, r4
    asrs r1, r1, #31
    adds r3, r3, r1         @ rem + half - (v < 0), >= 0 but may pass 2^31
    lsrs r3, r3, r2
    adds r1, r5, r3
3:
    adds r0, r0, #8         @ next channel's bl
    add r1, r11
    cmp r1, r12
    bge 4f
    mov r1, r12
4:
    cmp r1, lr
    ble 5f
    mov r1, lr
5:
    strb r1, [r6]
    adds r6, r6, #1
    cmp r6, r10
    bne 1b
    b 8f
7:                          @ four 16x16 products: a r1, bl r2, bh r3
    uxth r4, r1             @ al
    asrs r1, r1, #16        @ ah
    movs r5, r4
    muls r5, r2             @ lo = al * bl
    muls r4, r3             @ m2 = al * bh
    muls r2, r1             @ m1 = ah * bl
    muls r1, r3             @ hh = ah * bh
    lsrs r5, r5, #16
    uxth r3, r4
    adds r5, r5, r3
    uxth r3, r2
    adds r5, r5, r3
    add r5, r8
    lsrs r5, r5, #15        @ S >> 15
    asrs r4, r4, #16
    asrs r2, r2, #16
    adds r1, r1, r4
    adds r1, r1, r2
    lsls r1, r1, #1
    adds r1, r1, r5         @ v = 2H + (S >> 15)
    b 2b
8:
    pop {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4-r7, pc}
    .size el_requant_v6m, . - el_requant_v6m
