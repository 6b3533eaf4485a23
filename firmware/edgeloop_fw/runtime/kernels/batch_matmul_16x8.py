"""BATCH_MATMUL, int16: TFLM's BatchMatMul<int16_t, int64_t>, both operands activations.

kernels/batch_matmul.py's loop nest (adj_x/adj_y and broadcast as host-made byte strides)
over little-endian int16 values, zero points 0; the depth-long sum is TFLM's int64
accumulator (exact: Python ints, long past 2**30), requantized by qmath.mbqm64 and
clamped to int16.
"""

from ..qmath import mbqm64

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
BATCHES = const(0)
ROWS = const(2)
COLS = const(3)
DEPTH = const(4)
LHS = const(5)
LHS_BATCH = const(6)
LHS_ROW = const(8)
LHS_K = const(9)
RHS = const(10)
RHS_BATCH = const(11)
RHS_K = const(13)
RHS_COL = const(14)
OUTPUT = const(15)
REDUCED = const(16)
TOTAL_SHIFT = const(17)
# --- end generated ---


def eval(p, arena, model):
    rows = p[ROWS]
    cols = p[COLS]
    depth = p[DEPTH]
    lr = p[LHS_ROW]
    lk = p[LHS_K]
    rk = p[RHS_K]
    rc = p[RHS_COL]
    lb1 = p[LHS_BATCH + 1]
    rb1 = p[RHS_BATCH + 1]
    red = p[REDUCED]
    ts = p[TOTAL_SHIFT]
    y = p[OUTPUT]
    la = p[LHS]
    ra = p[RHS]
    for _b0 in range(p[BATCHES]):
        lb = la
        rb = ra
        for _b1 in range(p[BATCHES + 1]):
            for i in range(rows):
                li = lb + i * lr
                for j in range(cols):
                    l = li
                    r = rb + j * rc
                    acc = 0
                    for _k in range(depth):
                        acc += ((arena[l + 1] << 8) | (arena[l] & 255)) * ((arena[r + 1] << 8) | (arena[r] & 255))
                        l += lk
                        r += rk
                    acc = mbqm64(acc, red, ts)
                    if acc < -32768:
                        acc = -32768
                    elif acc > 32767:
                        acc = 32767
                    arena[y] = ((acc + 128) & 255) - 128
                    arena[y + 1] = acc >> 8
                    y += 2
            lb += lb1
            rb += rb1
        la += p[LHS_BATCH]
        ra += p[RHS_BATCH]
