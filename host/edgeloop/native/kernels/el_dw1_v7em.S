@ ARMv7E-M (Cortex-M4/M7, DSP extension), depthwise multiplier 1 (el_dw1.c),
@ one output pixel: for each block of 4 channels c = 0, 4, .. n4 - 4:
@   acc[c + j] = fold[c + j] + sum_t xp[t][c + j] * w_j(block, t)
@ void el_dw1_v7em(const el_dw1_run *r)   (struct layout in el_dw1.c)
@ Per block and tap the weights are two words, (w0, w2) and (w1, w3) as int16
@ halves: SXTB16 of the tap's 4 input bytes (one unaligned LDR) gives (x0, x2)
@ and, rotated by 8, (x1, x3), and SMLABB/SMLATT do one channel each:
@ 10 instructions per 4 MACs with the loop (unrolled twice; an odd tap
@ count enters at the second half).
@ Registers in the tap loop: xp r0, w r1, end of xp r2, c r3, x pairs r4 r5,
@ weights r12 lr, input word r7, sums r8-r11, the struct r6 (and at [sp]).
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dw1_v7em
    .type el_dw1_v7em, %function
    .thumb_func
el_dw1_v7em:
    push {r4-r11, lr}
    ldrd r7, r2, [r0]       @ xp, end of xp
    subs r7, r2, r7
    and r7, r7, #4          @ 4 when k is odd
    push {r0, r7}           @ [sp] the struct, [sp, #4] odd
    ldr r1, [r0, #8]        @ weights, block after block
    movs r3, #0             @ c
    .macro TAP
    ldr r7, [r0], #4
    ldr r7, [r7, r3]
    ldrd r12, lr, [r1], #8
    sxtb16 r4, r7
    sxtb16 r5, r7, ror #8
    smlabb r8, r4, r12, r8
    smlatt r10, r4, r12, r10
    smlabb r9, r5, lr, r9
    smlatt r11, r5, lr, r11
    .endm
2:
    ldr r6, [sp]
    ldr r7, [r6, #12]       @ fold
    add r7, r7, r3, lsl #2
    ldm r7, {r8-r11}
    ldr r0, [r6]            @ xp
    ldr r7, [sp, #4]
    cmp r7, #0
    bne 4f
1:
    TAP
4:
    TAP
    cmp r0, r2
    bne 1b
    ldr r7, [r6, #16]       @ acc
    add r7, r7, r3, lsl #2
    stm r7, {r8-r11}
    adds r3, r3, #4
    ldr r7, [r6, #20]       @ n4
    cmp r3, r7
    blt 2b
    add sp, #8
    pop {r4-r11, pc}
    .size el_dw1_v7em, . - el_dw1_v7em
