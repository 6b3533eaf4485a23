@ ARMv6-M (Cortex-M0/M0+), depthwise multiplier 1 (el_dw1.c), one output pixel:
@ for each block of 4 channels c = 0, 4, .. n4 - 4:
@   acc[c + j] = fold[c + j] + sum_t xp[t][c + j] * w[(c / 4 * k + t) * 4 + j]
@ void el_dw1_v6m(const el_dw1_run *r)   (struct layout in el_dw1.c)
@ Per tap: the tap's address (LDM), + c, one LDM for the four weights
@ (int32, no sign extension), four LDRB + SXTB + MULS + ADD into r8-r11 (the
@ weight register takes the product), and the loop: 21 instructions per 4 MACs.
@ Registers in the tap loop: xp r0, w r1, tap address r2, x r3, weights
@ r4-r7, sums r8-r11, end of xp r12, c lr. The struct stays at [sp].
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
    push {r0}
    ldr r1, [r0, #8]        @ weights, block after block
    movs r2, #0
    mov lr, r2              @ c
2:
    ldr r0, [sp]
    ldr r3, [r0, #12]       @ fold
    mov r2, lr
    lsls r2, r2, #2
    adds r3, r3, r2
    ldm r3!, {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    ldr r2, [r0, #4]
    mov r12, r2             @ end of xp
    ldr r0, [r0]            @ xp
    .macro MAC off, wr, acc
    ldrb r3, [r2, #\off]
    sxtb r3, r3
    muls \wr, r3, \wr
    add \acc, \wr
    .endm
1:
    ldm r0!, {r2}
    add r2, lr
    ldm r1!, {r4-r7}
    MAC 0, r4, r8
    MAC 1, r5, r9
    MAC 2, r6, r10
    MAC 3, r7, r11
    cmp r0, r12
    bne 1b
    ldr r0, [sp]
    ldr r3, [r0, #16]       @ acc
    mov r2, lr
    lsls r2, r2, #2
    adds r3, r3, r2
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    stm r3!, {r4-r7}
    mov r2, lr
    adds r2, r2, #4
    mov lr, r2
    ldr r3, [r0, #20]       @ n4
    cmp r2, r3
    blt 2b
    pop {r0}
    pop {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4-r7, pc}
    .size el_dw1_v6m, . - el_dw1_v6m
