@ ARMv6-M (Cortex-M0/M0+), depthwise multiplier 1 (el_dw1.c), one output pixel:
@ for each block of 4 channels c = 0, 4, .. n4 - 4:
@   acc[c + j] = fold[c + j] + sum_t xp[t][c + j] * w[(c / 4 * k + t) * 4 + j]
@ void el_dw1_v6m(const el_dw1_run *r)   (struct layout in el_dw1.c)
@ Per tap: the tap's address (LDM), + c, one LDM for the four weights
@ (int32, no sign extension), four LDRB + SXTB + MULS + ADD into r8-r11 (the
@ weight register takes the product): 19 instructions per 4 MACs, the loop
@ unrolled twice (an odd tap count enters at the second half), ~20 per block
@ of 4 channels around it.
@ Registers in the tap loop: xp r0, w r1, tap address r2, x r3, weights
@ r4-r7, sums r8-r11, end of xp r12, c lr. On the stack: the next block's
@ fold and acc, n4, xp, whether k is odd.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dw1_v6m
    .type el_dw1_v6m, %function
    .thumb_func
el_dw1_v6m:
    push {r4-r7, lr}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    push {r4-r7}
    ldr r2, [r0, #12]       @ fold
    ldr r3, [r0, #16]       @ acc
    ldr r4, [r0, #20]       @ n4
    ldr r5, [r0]            @ xp
    ldr r6, [r0, #4]        @ end of xp
    mov r12, r6
    subs r6, r6, r5
    movs r7, #4
    ands r6, r7             @ 4 when k is odd
    push {r2-r6}            @ [sp] fold, [sp, #4] acc, [sp, #8] n4, [sp, #12] xp, [sp, #16] odd
    ldr r1, [r0, #8]        @ weights, block after block
    movs r2, #0
    mov lr, r2              @ c
    .macro MAC off, wr, acc
    ldrb r3, [r2, #\off]
    sxtb r3, r3
    muls \wr, r3, \wr
    add \acc, \wr
    .endm
    .macro TAP
    ldm r0!, {r2}
    add r2, lr
    ldm r1!, {r4-r7}
    MAC 0, r4, r8
    MAC 1, r5, r9
    MAC 2, r6, r10
    MAC 3, r7, r11
    .endm
2:
    ldr r3, [sp]
    ldm r3!, {r4-r7}
    str r3, [sp]
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    ldr r0, [sp, #12]
    ldr r3, [sp, #16]
    cmp r3, #0
    bne 4f
1:
    TAP
4:
    TAP
    cmp r0, r12
    bne 1b
    ldr r3, [sp, #4]
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    stm r3!, {r4-r7}
    str r3, [sp, #4]
    mov r2, lr
    adds r2, r2, #4
    mov lr, r2
    ldr r3, [sp, #8]
    cmp r2, r3
    blt 2b
    add sp, #20
    pop {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4-r7, pc}
    .size el_dw1_v6m, . - el_dw1_v6m
