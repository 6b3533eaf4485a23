@ ARMv7E-M (Cortex-M4/M7): requantize `n` int32 sums into int8 (TFLM's
@ MultiplyByQuantizedMultiplier, then output offset and clamp).
@ void el_requant_v7em(const int32_t *acc, const int32_t *chan, int32_t n, int8_t *out, const int32_t *o)
@ chan points at the first channel's `lshift` (el_internal.h's el_chan, 8
@ words per channel: fold, bl, bh, lshift, rshift, mask, half, mult), so one
@ LDM brings the five words used; o = {offset, min, max}. The high product is
@ one SMULL plus the 2^30 nudge; the caller takes the C path when a
@ multiplier is INT32_MIN (the one saturating case). 26 instructions per
@ output (20 with no right shift), against ~33 from gcc's C.
@ Registers: acc r0, chan r1, out end r2, out r3, work r4-r9 lr, offset r10,
@ min r11, max r12.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_requant_v7em
    .type el_requant_v7em, %function
    .thumb_func
el_requant_v7em:
    push {r4-r11, lr}
    ldr r4, [sp, #36]
    ldm r4, {r10-r12}
    add r2, r3, r2
1:
    ldr lr, [r0], #4            @ a
    ldm r1, {r4-r8}             @ lshift, e, mask, half, mult
    adds r1, r1, #32
    lsl lr, lr, r4
    smull r4, r9, lr, r8
    adds r4, r4, #0x40000000
    adc r9, r9, #0
    lsl r9, r9, #1
    orr lr, r9, r4, lsr #31     @ v = floor((a m + 2^30) / 2^31)
    cbz r5, 2f
    and r6, r6, lr              @ rem
    add r6, r6, r7
    add r6, r6, lr, asr #31     @ rem + half - (v < 0): >= 0, may pass 2^31
    asr lr, lr, r5
    lsr r6, r6, r5
    add lr, lr, r6
2:
    add lr, lr, r10
    cmp lr, r11
    it lt
    movlt lr, r11
    cmp lr, r12
    it gt
    movgt lr, r12
    strb lr, [r3], #1
    cmp r3, r2
    bne 1b
    pop {r4-r11, pc}
    .size el_requant_v7em, . - el_requant_v7em
