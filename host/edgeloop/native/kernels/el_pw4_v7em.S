@ ARMv7E-M (Cortex-M4/M7), conv on widened weights (el_ops.c's blocked rows;
@ a 1x1 conv is a matrix multiply, and any conv is one after the pixel's
@ gather): acc[4 b + r] = fold[8 (4 b + r)] + sum_k x[k] * w[b][r][k] for
@ r = 0..3 and every block b < n / 4, in one call per pixel.
@ void el_pw4_v7em(const int8_t *x, const int16_t *w, int32_t n4, int32_t *acc, int32_t n,
@                  const int32_t *fold)
@ n4 (> 0) steps of 4 taps, n (> 0) a multiple of 4; fold: the first
@ channel's folded bias in el_chan (8 words per channel). Per block and step
@ the weights are the four rows' pairs (w0, w2), (w1, w3) in a row (8
@ words, el_ops.c's widen_blocked), matching SXTB16's split of the input
@ word, so two LDM bring them: per step LDR + 2 SXTB16 + 2 LDM + 8 SMLAD,
@ 28 instructions per 32 MACs with the loop unrolled twice (el_dot4w_v7em.S,
@ which loads each row with its own LDRD, takes 32), and a block costs ~17
@ more instead of a C call.
@ Registers: x r0, w r1, count r2, acc r3, weights r4-r7, sums r8-r11,
@ input pairs r12 lr.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_pw4_v7em
    .type el_pw4_v7em, %function
    .thumb_func
el_pw4_v7em:
    push {r4-r11, lr}
    ldr r4, [sp, #36]           @ n
    ldr r5, [sp, #40]           @ fold
    add r4, r3, r4, lsl #2      @ end of acc
    push {r0, r2, r4, r5}       @ [sp] x, [sp, #4] n4, [sp, #8] end of acc, [sp, #12] fold
    .macro STEP
    ldr r12, [r0], #4
    sxtb16 lr, r12, ror #8
    sxtb16 r12, r12
    ldm r1!, {r4-r7}
    smlad r8, r12, r4, r8
    smlad r8, lr, r5, r8
    smlad r9, r12, r6, r9
    smlad r9, lr, r7, r9
    ldm r1!, {r4-r7}
    smlad r10, r12, r4, r10
    smlad r10, lr, r5, r10
    smlad r11, r12, r6, r11
    smlad r11, lr, r7, r11
    .endm
4:
    ldr r4, [sp, #12]
    ldr r8, [r4, #0]
    ldr r9, [r4, #32]
    ldr r10, [r4, #64]
    ldr r11, [r4, #96]
    add r4, r4, #128
    str r4, [sp, #12]
    ldr r0, [sp]
    ldr r2, [sp, #4]
    lsrs r2, r2, #1             @ pairs of steps; carry = odd count
    bcc 1f
    adds r2, r2, #1
    b 2f
1:
    STEP
2:
    STEP
    subs r2, r2, #1
    bne 1b
    stm r3!, {r8-r11}
    ldr r4, [sp, #8]
    cmp r3, r4
    bne 4b
    add sp, #16
    pop {r4-r11, pc}
    .size el_pw4_v7em, . - el_pw4_v7em

@ void el_pw4x_v7em(const int32_t *xp, const int16_t *w, int32_t n4, int32_t *acc, int32_t n,
@                   const int32_t *fold)
@ The same with the pixel's column already split into SXTB16's pairs, (x0, x2)
@ and (x1, x3) per 4 taps (el_ops.c's blocked(), once per pixel for every
@ block): per step one LDM of the pairs, 2 LDM of weights, 8 SMLAD, 24
@ instructions per 32 MACs with the loop.
    .align 2
    .global el_pw4x_v7em
    .type el_pw4x_v7em, %function
    .thumb_func
el_pw4x_v7em:
    push {r4-r11, lr}
    ldr r4, [sp, #36]           @ n
    ldr r5, [sp, #40]           @ fold
    add r4, r3, r4, lsl #2      @ end of acc
    push {r0, r2, r4, r5}       @ [sp] x, [sp, #4] n4, [sp, #8] end of acc, [sp, #12] fold
    .macro STEPX
    ldm r0!, {r12, lr}
    ldm r1!, {r4-r7}
    smlad r8, r12, r4, r8
    smlad r8, lr, r5, r8
    smlad r9, r12, r6, r9
    smlad r9, lr, r7, r9
    ldm r1!, {r4-r7}
    smlad r10, r12, r4, r10
    smlad r10, lr, r5, r10
    smlad r11, r12, r6, r11
    smlad r11, lr, r7, r11
    .endm
4:
    ldr r4, [sp, #12]
    ldr r8, [r4, #0]
    ldr r9, [r4, #32]
    ldr r10, [r4, #64]
    ldr r11, [r4, #96]
    add r4, r4, #128
    str r4, [sp, #12]
    ldr r0, [sp]
    ldr r2, [sp, #4]
    lsrs r2, r2, #1             @ pairs of steps; carry = odd count
    bcc 1f
    adds r2, r2, #1
    b 2f
1:
    STEPX
2:
    STEPX
    subs r2, r2, #1
    bne 1b
    stm r3!, {r8-r11}
    ldr r4, [sp, #8]
    cmp r3, r4
    bne 4b
    add sp, #16
    pop {r4-r11, pc}
    .size el_pw4x_v7em, . - el_pw4x_v7em
