@ ARMv7E-M (Cortex-M4/M7, DSP extension): one channel of a 3x3 depthwise
@ layer with depth multiplier 1, stride 1 down the rows, no dilation
@ (DS-CNN's and most of MobileNet's layers; el_dw1.c prepares everything).
@ void el_dw3_v7em(const el_dw3_run *r)   (struct layout in el_dw1.c)
@
@ The channel's input is a plane of int16 words (x[2i][j], x[2i+1][j]): two
@ vertically neighbouring pixels of column j, rows of words `S` bytes apart,
@ padding already in it. Two output rows 2i, 2i+1 of a column read, per filter
@ column f, the words P (rows 2i, 2i+1) and N (rows 2i+2, 2i+3):
@   out0 = P.b w0 + P.t w1 + N.b w2 = SMLAD(P, A) + SMLABT(N, B)
@   out1 = P.t w0 + N.b w1 + N.t w2 = SMLATB(P, A) + SMLAD(N, B)
@ with A = (w0, w1) and B = (w1, w2) of that filter column, so all six weight
@ words stay in registers and 18 MACs cost 12 multiplies and 2 LDM.
@ Requantization (TFLM's MultiplyByQuantizedMultiplier, exact): the weights
@ and bias come scaled by 2^(lshift + 1), so SMMLAR(acc, m, c) is
@ floor((a 2^lshift m + 2^30) / 2^31) + c, c = 2^(e-1) + offset 2^e; TFLM's
@ "round half away from zero" needs - (v < 0), and v < 0 exactly when
@ a < 0 for the multipliers el_dw1.c admits (m >= 2^30, e >= 1); then ASR e
@ and SSAT 8 (the activation range is [-128, 127]). 31.5 instructions per
@ two outputs with the loop (unrolled twice).
@ Registers in the row loop: plane r0, weights r1-r6, x words r7-r9, sums
@ r10 r11, out lr, r12 scratch. Frame: 0 m, 4 c, 8 e, 12 out row stride,
@ 16 end of this column's row pairs, 20 S, 24/28 bias, 32 columns left,
@ 36 the struct, 40 plane column, 44 out column.
    .syntax unified
    .thumb
    .text
    .align 2
    .global el_dw3_v7em
    .type el_dw3_v7em, %function
    .thumb_func
el_dw3_v7em:
    push {r4-r11, lr}
    sub sp, sp, #48
    add r12, r0, #60
    ldm r12, {r7-r10}           @ m, c, e, bias
    stm sp, {r7-r9}
    strd r10, r10, [sp, #24]
    ldr r7, [r0, #16]
    str r7, [sp, #12]           @ out row stride
    ldr r7, [r0, #4]
    str r7, [sp, #20]           @ S
    ldr r7, [r0, #24]
    str r7, [sp, #32]           @ out_w
    str r0, [sp, #36]
    ldr r7, [r0]
    str r7, [sp, #40]           @ plane
    ldr r7, [r0, #12]
    str r7, [sp, #44]           @ out
    add r12, r0, #36
    ldm r12, {r1-r6}            @ A0 B0 A1 B1 A2 B2
.macro PAIR
    ldrd r10, r11, [sp, #24]
    ldm r0, {r7-r9}             @ P of the 3 filter columns
    smlad r10, r7, r1, r10
    smlatb r11, r7, r1, r11
    smlad r10, r8, r3, r10
    smlatb r11, r8, r3, r11
    smlad r10, r9, r5, r10
    smlatb r11, r9, r5, r11
    ldr r12, [sp, #20]
    add r0, r0, r12
    ldm r0, {r7-r9}             @ N
    smlabt r10, r7, r2, r10
    smlad r11, r7, r2, r11
    smlabt r10, r8, r4, r10
    smlad r11, r8, r4, r11
    smlabt r10, r9, r6, r10
    smlad r11, r9, r6, r11
    ldm sp, {r7-r9}             @ m, c, e
    sub r12, r8, r10, lsr #31
    smmlar r10, r10, r7, r12
    sub r12, r8, r11, lsr #31
    smmlar r11, r11, r7, r12
    asr r10, r10, r9
    asr r11, r11, r9
    ssat r10, #8, r10
    ssat r11, #8, r11
    ldr r12, [sp, #12]
    strb r10, [lr]
    strb r11, [lr, r12]
    add lr, lr, r12, lsl #1
.endm
5:
    ldr r0, [sp, #40]
    ldr lr, [sp, #44]
    ldr r7, [sp, #36]
    ldr r8, [r7, #28]           @ row pairs
    ldr r9, [sp, #12]
    mul r9, r8, r9
    add r9, lr, r9, lsl #1
    str r9, [sp, #16]
    cmp r9, lr
    beq 3f
    tst r8, #1                  @ an odd count enters at the second copy
    bne 6f
1:
    PAIR
6:
    PAIR
    ldr r12, [sp, #16]
    cmp lr, r12
    bne 1b
3:
    ldr r7, [sp, #36]
    ldr r8, [r7, #32]           @ odd row count: one more output row
    cmp r8, #0
    beq 4f
    ldr r10, [sp, #24]
    ldm r0, {r7-r9}
    smlad r10, r7, r1, r10
    smlad r10, r8, r3, r10
    smlad r10, r9, r5, r10
    ldr r12, [sp, #20]
    add r0, r0, r12
    ldm r0, {r7-r9}
    smlabt r10, r7, r2, r10
    smlabt r10, r8, r4, r10
    smlabt r10, r9, r6, r10
    ldm sp, {r7-r9}
    sub r12, r8, r10, lsr #31
    smmlar r10, r10, r7, r12
    asr r10, r10, r9
    ssat r10, #8, r10
    strb r10, [lr]
4:
    ldr r7, [sp, #36]
    ldr r8, [r7, #8]            @ plane bytes per output column
    ldr r9, [sp, #40]
    add r9, r9, r8
    str r9, [sp, #40]
    ldr r8, [r7, #20]           @ out bytes per output column
    ldr r9, [sp, #44]
    add r9, r9, r8
    str r9, [sp, #44]
    ldr r8, [sp, #32]
    subs r8, r8, #1
    str r8, [sp, #32]
    bne 5b
    add sp, sp, #48
    pop {r4-r11, pc}
    .size el_dw3_v7em, . - el_dw3_v7em

@ void el_dw3_pack_v7em(const el_dw3_pack *k)   (struct layout in el_dw1.c)
@ The inside columns of `pairs` rows of words of 4 channels' planes
@ (el_dw1.c's dw3): per column the input words a (row 2i) and b (row 2i + 1)
@ of 4 channels each, `step` bytes to the next column (0 for a row of
@ padding, which then reads one word of zero points); SXTB16 splits a word
@ into channels (0, 2) and, rotated by 8, (1, 3), PKHBT/PKHTB pair each
@ channel's two rows: 18 instructions per 8 elements.
@ Frame: 0 the struct, 4 pairs left, 8 a, 12 b, 16 plane row.
    .align 2
    .global el_dw3_pack_v7em
    .type el_dw3_pack_v7em, %function
    .thumb_func
el_dw3_pack_v7em:
    push {r4-r11, lr}
    sub sp, sp, #20
    str r0, [sp]
    ldr r4, [r0, #24]           @ bytes between the channels' planes
    add r5, r4, r4              @ to channel 2
    add r6, r5, r4              @ to channel 3
    ldr r7, [r0, #28]
    str r7, [sp, #4]            @ pairs
    ldr lr, [r0, #20]           @ plane
    mov r7, r0
    ldrd r0, r1, [r7]           @ a, b
    ldrd r2, r3, [r7, #8]       @ steps
2:
    strd r0, r1, [sp, #8]
    str lr, [sp, #16]
    ldr r12, [r7, #16]          @ columns
1:
    ldr r7, [r0]
    add r0, r0, r2
    ldr r8, [r1]
    add r1, r1, r3
    sxtb16 r9, r7, ror #8       @ channels 1, 3 of row a
    sxtb16 r10, r8, ror #8      @ of row b
    pkhbt r11, r9, r10, lsl #16
    str r11, [lr, r4]           @ channel 1
    pkhtb r11, r10, r9, asr #16
    str r11, [lr, r6]           @ channel 3
    sxtb16 r9, r7
    sxtb16 r10, r8
    pkhtb r11, r10, r9, asr #16
    str r11, [lr, r5]           @ channel 2
    pkhbt r11, r9, r10, lsl #16
    str r11, [lr], #4           @ channel 0
    subs r12, r12, #1
    bne 1b
    ldr r7, [sp]
    ldrd r0, r1, [sp, #8]
    ldr r8, [r7, #32]           @ input bytes from row 2i to row 2i + 2
    add r0, r0, r8
    add r1, r1, r8
    ldr lr, [sp, #16]
    ldr r8, [r7, #36]           @ plane bytes per row of words
    add lr, lr, r8
    ldr r8, [sp, #4]
    subs r8, r8, #1
    str r8, [sp, #4]
    bne 2b
    add sp, sp, #20
    pop {r4-r11, pc}
    .size el_dw3_pack_v7em, . - el_dw3_pack_v7em
