"""The viper kernels' MAC loops in Xtensa assembler, for xtensawin boards (ESP32-S3).

Viper spends ~50 instructions per MAC (it has no sign-extending byte load and
keeps few values in registers); these loops spend 5.5-7.25 (docs/xtensa.md,
benchmarks/bench_xtensa.py). Deploy compiles this file only for an xtensawin
board (`-march=xtensawin`); elsewhere it is absent, the viper kernels' import
of it fails and they keep their own loops, so every board gets the same bytes.

The instructions MicroPython's assembler has no mnemonic for are written with
`data(3, word)`: SEXT (sign-extend a loaded byte), MULA.AA.LL (MAC16: the
40-bit accumulator ACC += the signed low 16-bit halves of two registers),
LOOPNEZ (zero-overhead loop: no branch per iteration), WSR/RSR of ACCLO and
ACCHI. Every loop body is written with 3-byte instructions only, so its
length in the LOOPNEZ word is 3 * instructions - 1.

The arithmetic is TFLM's int32 sum of (x + input_offset) * w: both bytes are
sign-extended, x + offset (-255..255) and w fit MUL16's signed halves, and
ACCLO holds the low 32 bits of the sum, the int32 TFLM's own accumulator
holds. Requantization stays in the viper kernel.

Each function takes (x buffer, w buffer, prm) and returns 0 (a small int: no
heap); prm is an array('i') the caller fills (P_* below; P_ACC in and out):
    for r in range(RUNS):
        ACC += sum(w[W + i] * (x[X + i * XSTEP] + OFF) for i in range(N))
        X += N * XSTEP + XSKIP;  W += N + WSKIP
`dot` is the XSTEP = 1 case (FULLY_CONNECTED, CONV_2D rows), `dots` any XSTEP
(DEPTHWISE_CONV_2D: one channel's taps lie IN_C bytes apart).
"""

import micropython
from micropython import const

P_ACC = const(0)
P_N = const(1)
P_RUNS = const(2)
P_XSKIP = const(3)
P_WSKIP = const(4)
P_OFF = const(5)
P_X = const(6)
P_W = const(7)
P_XSTEP = const(8)
P_SIZE = const(9)

# Instruction words (little-endian 24-bit, Xtensa ISA encodings).
_SEXT7 = const(0x230000)  # SEXT ar, as, 7: | ar << 12 | as << 8
_MULA_LL = const(0x780004)  # MULA.AA.LL as, at: | as << 8 | at << 4
_LOOPNEZ = const(0x009076)  # LOOPNEZ as, body: | as << 8 | (bytes - 1) << 16
_WSR_ACCLO = const(0x131000)  # | at << 4
_WSR_ACCHI = const(0x131100)
_RSR_ACCLO = const(0x031000)


@micropython.asm_xtensa
def dot(a2, a3, a4):
    l32i(a5, a4, 24)  # X
    add(a2, a2, a5)
    l32i(a5, a4, 28)  # W
    add(a3, a3, a5)
    l32i(a5, a4, 0)
    data(3, _WSR_ACCLO | 5 << 4)  # ACC = P_ACC (ACCHI is never read)
    movi(a5, 0)
    data(3, _WSR_ACCHI | 5 << 4)
    l32i(a5, a4, 4)  # N
    l32i(a6, a4, 8)  # RUNS
    l32i(a7, a4, 12)  # XSKIP
    l32i(a8, a4, 16)  # WSKIP
    l32i(a9, a4, 20)  # OFF
    srli(a10, a5, 2)  # N // 4 blocks of four
    slli(a11, a10, 2)
    sub(a11, a5, a11)  # N % 4 single steps
    beqz(a6, done)
    beqz(a9, run0)
    label(run)
    data(3, _LOOPNEZ | 10 << 8 | 77 << 16)  # 26 instructions
    l8ui(a12, a2, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a14, a2, 1)
    data(3, _SEXT7 | 14 << 12 | 14 << 8)
    add(a14, a14, a9)
    l8ui(a15, a3, 1)
    data(3, _SEXT7 | 15 << 12 | 15 << 8)
    data(3, _MULA_LL | 14 << 8 | 15 << 4)
    l8ui(a12, a2, 2)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 2)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a14, a2, 3)
    data(3, _SEXT7 | 14 << 12 | 14 << 8)
    add(a14, a14, a9)
    l8ui(a15, a3, 3)
    data(3, _SEXT7 | 15 << 12 | 15 << 8)
    data(3, _MULA_LL | 14 << 8 | 15 << 4)
    addi(a2, a2, 4)
    addi(a3, a3, 4)
    data(3, _LOOPNEZ | 11 << 8 | 23 << 16)  # 8 instructions
    l8ui(a12, a2, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a2, a2, 1)
    addi(a3, a3, 1)
    add(a2, a2, a7)
    add(a3, a3, a8)
    addi(a6, a6, -1)
    bnez(a6, run)
    j(done)
    label(run0)  # OFF == 0 (FULLY_CONNECTED: the converter folds the offset into the bias)
    data(3, _LOOPNEZ | 10 << 8 | 65 << 16)  # 22 instructions
    l8ui(a12, a2, 0)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a14, a2, 1)
    l8ui(a15, a3, 1)
    data(3, _SEXT7 | 14 << 12 | 14 << 8)
    data(3, _SEXT7 | 15 << 12 | 15 << 8)
    data(3, _MULA_LL | 14 << 8 | 15 << 4)
    l8ui(a12, a2, 2)
    l8ui(a13, a3, 2)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a14, a2, 3)
    l8ui(a15, a3, 3)
    data(3, _SEXT7 | 14 << 12 | 14 << 8)
    data(3, _SEXT7 | 15 << 12 | 15 << 8)
    data(3, _MULA_LL | 14 << 8 | 15 << 4)
    addi(a2, a2, 4)
    addi(a3, a3, 4)
    data(3, _LOOPNEZ | 11 << 8 | 20 << 16)  # 7 instructions
    l8ui(a12, a2, 0)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a2, a2, 1)
    addi(a3, a3, 1)
    add(a2, a2, a7)
    add(a3, a3, a8)
    addi(a6, a6, -1)
    bnez(a6, run0)
    label(done)
    data(3, _RSR_ACCLO | 5 << 4)
    s32i(a5, a4, 0)
    movi(a2, 0)


@micropython.asm_xtensa
def dots(a2, a3, a4):
    l32i(a5, a4, 24)  # X
    add(a2, a2, a5)
    l32i(a5, a4, 28)  # W
    add(a3, a3, a5)
    l32i(a5, a4, 0)
    data(3, _WSR_ACCLO | 5 << 4)
    movi(a5, 0)
    data(3, _WSR_ACCHI | 5 << 4)
    l32i(a5, a4, 4)  # N
    l32i(a6, a4, 8)  # RUNS
    l32i(a7, a4, 12)  # XSKIP
    l32i(a8, a4, 16)  # WSKIP
    l32i(a9, a4, 20)  # OFF
    l32i(a15, a4, 32)  # XSTEP
    srli(a10, a5, 2)
    slli(a11, a10, 2)
    sub(a11, a5, a11)
    beqz(a6, done)
    label(run)
    data(3, _LOOPNEZ | 10 << 8 | 86 << 16)  # 29 instructions
    l8ui(a12, a2, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a2, a2, a15)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a2, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a2, a2, a15)
    l8ui(a13, a3, 1)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a2, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a2, a2, a15)
    l8ui(a13, a3, 2)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a2, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a2, a2, a15)
    l8ui(a13, a3, 3)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a3, a3, 4)
    data(3, _LOOPNEZ | 11 << 8 | 23 << 16)  # 8 instructions
    l8ui(a12, a2, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a2, a2, a15)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a3, a3, 1)
    add(a2, a2, a7)
    add(a3, a3, a8)
    addi(a6, a6, -1)
    bnez(a6, run)
    label(done)
    data(3, _RSR_ACCLO | 5 << 4)
    s32i(a5, a4, 0)
    movi(a2, 0)
