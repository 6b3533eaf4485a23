@ ARMv6-M (Cortex-M0/M0+): acc[r] += sum_k x[k] * w[r * wstride + k], r = 0..3.
@ void el_dot4_v6m(const int8_t *x, const int8_t *w, int32_t wstride, int32_t n, int32_t *acc)
@ r0 = x, r1 = w, r2 = wstride, r3 = n (> 0), [sp] = acc.
@ Thumb-1 LDRSB has only a register offset, so every base points past the
@ end and one index runs from -n up to 0: the ADDS that steps it also sets
@ the flag that ends the loop. One input byte feeds four rows; the four sums
@ live in r8-r11 (ADD reaches high registers), which leaves r0-r7 for
@ the five bases, the index and two temporaries. 29 instructions per 8 MACs.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dot4_v6m
    .type el_dot4_v6m, %function
    .thumb_func
el_dot4_v6m:
    push {r4-r7, lr}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    push {r4-r7}
    ldr r7, [sp, #36]
    ldr r4, [r7, #0]
    mov r8, r4
    ldr r4, [r7, #4]
    mov r9, r4
    ldr r4, [r7, #8]
    mov r10, r4
    ldr r4, [r7, #12]
    mov r11, r4
    adds r0, r0, r3
    adds r1, r1, r3
    adds r4, r1, r2
    adds r5, r4, r2
    adds r6, r5, r2
    lsls r2, r3, #31        @ n odd: enter at the second half
    rsbs r3, r3, #0
    cmp r2, #0
    bne 2f
1:
    ldrsb r2, [r0, r3]
    ldrsb r7, [r1, r3]
    muls r7, r2, r7
    add r8, r7
    ldrsb r7, [r4, r3]
    muls r7, r2, r7
    add r9, r7
    ldrsb r7, [r5, r3]
    muls r7, r2, r7
    add r10, r7
    ldrsb r7, [r6, r3]
    muls r7, r2, r7
    add r11, r7
    adds r3, r3, #1
2:
    ldrsb r2, [r0, r3]
    ldrsb r7, [r1, r3]
    muls r7, r2, r7
    add r8, r7
    ldrsb r7, [r4, r3]
    muls r7, r2, r7
    add r9, r7
    ldrsb r7, [r5, r3]
    muls r7, r2, r7
    add r10, r7
    ldrsb r7, [r6, r3]
    muls r7, r2, r7
    add r11, r7
    adds r3, r3, #1
    bne 1b
    ldr r7, [sp, #36]
    mov r4, r8
    str r4, [r7, #0]
    mov r4, r9
    str r4, [r7, #4]
    mov r4, r10
    str r4, [r7, #8]
    mov r4, r11
    str r4, [r7, #12]
    pop {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4-r7, pc}
    .size el_dot4_v6m, . - el_dot4_v6m
