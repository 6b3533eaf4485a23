@ ARMv6-M (Cortex-M0/M0+): requantize `n` int32 sums into int8 (TFLM's
@ MultiplyByQuantizedMultiplier, then output offset and clamp).
@ void el_requant_v6m(const int32_t *acc, const int32_t *chan, int32_t n, int8_t *out, const int32_t *o)
@ chan points at the first channel's `bl` (el_ops.c's el_chan, 8 words per
@ channel: fold, mult, bl, bh, lshift, rshift, mask, half); o = {offset, min, max}.
@ The high product of gemmlowp's SaturatingRoundingDoublingHighMul comes from
@ four 16x16 MULS as in el_ops.c's srdhm16 (the caller takes the C path when
@ a multiplier is INT32_MIN, the one saturating case). About 40 instructions
@ per output instead of a call to libgcc's 64-bit multiply.
@ Registers: chan r0, work r1-r5, out r6, acc r7; end r10, offset r11,
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
1:
    ldm r7!, {r1}           @ a
    ldm r0!, {r2-r4}        @ bl, bh, lshift
    lsls r1, r1, r4
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
    movs r3, #1
    lsls r3, r3, #14
    adds r5, r5, r3
    lsrs r5, r5, #15        @ S >> 15
    asrs r4, r4, #16
    asrs r2, r2, #16
    adds r1, r1, r4
    adds r1, r1, r2
    lsls r1, r1, #1
    adds r1, r1, r5         @ v = 2H + (S >> 15)
    ldm r0!, {r2-r4}        @ e, mask, half
    cmp r2, #0
    beq 2f
    movs r5, r1
    asrs r5, r5, r2         @ v >> e
    ands r3, r1             @ rem
    adds r3, r3, r4
    asrs r1, r1, #31
    adds r3, r3, r1         @ rem + half - (v < 0), >= 0 but may pass 2^31
    lsrs r3, r3, r2
    adds r1, r5, r3
2:
    adds r0, r0, #8         @ next channel's bl
    add r1, r11
    cmp r1, r12
    bge 3f
    mov r1, r12
3:
    cmp r1, lr
    ble 4f
    mov r1, lr
4:
    strb r1, [r6]
    adds r6, r6, #1
    cmp r6, r10
    bne 1b
    pop {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4-r7, pc}
    .size el_requant_v6m, . - el_requant_v6m
