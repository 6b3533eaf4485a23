@ ARMv6-M (Cortex-M0/M0+), conv on int32 weights (el_ops.c's rows32; a 1x1
@ conv is a matrix multiply, and any conv is one after the pixel's gather):
@ acc[4 b + r] = fold[8 (4 b + r)] + sum_t x[t] * w[4 kp b + 4 t + r], r = 0..3,
@ for every block b < n / 4, in one call per pixel.
@ void el_pw4_v6m(const int32_t *x, const int32_t *w, int32_t kp, int32_t *acc, int32_t n,
@                 const int32_t *fold)
@ fold: the first channel's folded bias in el_ops.c's el_chan (8 words per channel).
@ kp (> 0) and n (> 0) are multiples of 4; x and w int32 (the pixel's column
@ and the weights widened once per call, each block's taps interleaved so that
@ one LDM brings a tap's four rows). The tap loop is el_dw4_v6m.S's: per MAC
@ one MULS (into the weight register) and one ADD into r8-r11, 40
@ instructions per 16 MACs; the blocks loop here, so a block costs 17 more
@ instead of a C call and a C loop setting the sums (~60). The weights of the
@ blocks are contiguous, so their pointer just runs on; x restarts from the stack.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_pw4_v6m
    .type el_pw4_v6m, %function
    .thumb_func
el_pw4_v6m:
    push {r4-r7, lr}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    push {r4-r7}
    ldr r4, [sp, #36]       @ n
    lsls r4, r4, #2
    adds r4, r3, r4         @ end of acc
    lsls r2, r2, #2
    adds r2, r0, r2
    mov r12, r2             @ end of x
    ldr r5, [sp, #40]       @ fold
    push {r0, r3, r4, r5}   @ [sp] x, [sp, #4] this block's acc, [sp, #8] end of acc, [sp, #12] fold
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
2:
    ldr r1, [sp, #12]
    ldr r4, [r1, #0]
    ldr r5, [r1, #32]
    ldr r6, [r1, #64]
    ldr r7, [r1, #96]
    adds r1, #128
    str r1, [sp, #12]
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    ldr r0, [sp]
1:
    ldm r0!, {r1, r2}
    TAP r1
    TAP r2
    ldm r0!, {r1, r2}
    TAP r1
    TAP r2
    cmp r0, r12
    bne 1b
    ldr r1, [sp, #4]
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    stm r1!, {r4-r7}
    str r1, [sp, #4]
    ldr r2, [sp, #8]
    cmp r1, r2
    bne 2b
    add sp, #16
    pop {r4-r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4-r7, pc}
    .size el_pw4_v6m, . - el_pw4_v6m
