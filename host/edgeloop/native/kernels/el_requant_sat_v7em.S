@ ARMv7E-M (Cortex-M4/M7): the short requantization of `n` int32 sums
@ (el_ops.c's sat_ok says which channels take it and why it is TFLM's
@ MultiplyByQuantizedMultiplier, offset and clamp exactly):
@   out = SSAT8((SMMLAR(2a, m, c) - (a < 0)) >> e)
@ void el_requant_sat_v7em(const int32_t *acc, const int32_t *chan, int32_t n, int8_t *out)
@ chan points at the first channel's `bh` (el_internal.h's el_chan, 8 words
@ per channel: fold, bl, bh = c, lshift, rshift = e, mask, half, mult), so
@ one LDM brings c, e and m. 11 instructions per output against 26
@ (el_requant_v7em.S).
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_requant_sat_v7em
    .type el_requant_sat_v7em, %function
    .thumb_func
el_requant_sat_v7em:
    push {r4-r10, lr}
    add r2, r3, r2
1:
    ldr r4, [r0], #4            @ a
    ldm r1, {r5-r10}            @ c, lshift, e, mask, half, m
    adds r1, r1, #32
    lsl r4, r4, #1
    sub r5, r5, r4, lsr #31     @ c - (a < 0)
    smmlar r4, r4, r10, r5
    asr r4, r4, r7
    ssat r4, #8, r4
    strb r4, [r3], #1
    cmp r3, r2
    bne 1b
    pop {r4-r10, pc}
    .size el_requant_sat_v7em, . - el_requant_sat_v7em
