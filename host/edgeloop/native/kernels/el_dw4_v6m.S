@ ARMv6-M (Cortex-M0/M0+), depthwise on the row strip (el_dw.c):
@ acc[r] += sum_t x[t] * w[4 t + r], r = 0..3, x and w int32.
@ void el_dw4_v6m(const int32_t *x, const int32_t *w, int32_t kp, int32_t *acc)
@ kp (> 0) is a multiple of 4. Weights are interleaved per tap, so one LDM
@ brings a tap's four rows and another two taps of x: per MAC one MULS (the
@ weight register takes the product) and one ADD into r8-r11, plus 3/8 of a
@ load. 40 instructions per 16 MACs with the loop (CMP against the end
@ pointer in r12, no counter register needed).
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dw4_v6m
    .type el_dw4_v6m, %function
    .thumb_func
el_dw4_v6m:
    push {r4-r7, lr}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    push {r3-r7}            @ acc first: popped alone at the end
    ldm r3!, {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    lsls r2, r2, #2
    adds r2, r0, r2
    mov r12, r2             @ end of x
    mov r3, r1              @ weights
    .macro TAP xv
    ldm r3!, {r4-r7}
    muls r4, \xv, r4
    add r8, r4
    muls r5, \xv, r5
    add r9, r5
    muls r6, \xv, r6
    add r10, r6
    muls r7, \xv, r7
    add r11, r7
    .endm
1:
    ldm r0!, {r1, r2}
    TAP r1
    TAP r2
    ldm r0!, {r1, r2}
    TAP r1
    TAP r2
    cmp r0, r12
    bne 1b
    pop {r3}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    stm r3!, {r4-r7}
    pop {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4-r7, pc}
    .size el_dw4_v6m, . - el_dw4_v6m
