"""BATCH_MATMUL (int8): tflite::reference_ops::BatchMatMul, both operands activations.

The host turned adj_x/adj_y and batch broadcasting into byte strides, so this
is one loop nest: per output element a depth-long sum of (lhs + LHS_OFFSET) *
(rhs + RHS_OFFSET), requantized with TFLM's MultiplyByQuantizedMultiplier
(limbs: the multiplier itself is >= 2**30) and clamped to int8.
"""

from ..qmath import mbqm

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
LHS_OFFSET = const(16)
RHS_OFFSET = const(17)
OUTPUT_OFFSET = const(18)
SHIFT = const(20)
LIMBS = const(21)
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
    loff = p[LHS_OFFSET]
    roff = p[RHS_OFFSET]
    zp = p[OUTPUT_OFFSET]
    shift = p[SHIFT]
    m0 = p[LIMBS]
    m1 = p[LIMBS + 1]
    m2 = p[LIMBS + 2]
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
                        acc += (arena[l] + loff) * (arena[r] + roff)
                        l += lk
                        r += rk
                    acc = mbqm(acc, m0, m1, m2, shift) + zp
                    if acc < -128:
                        acc = -128
                    elif acc > 127:
                        acc = 127
                    arena[y] = acc
                    y += 1
            lb += lb1
            rb += rb1
        la += p[LHS_BATCH]
        ra += p[RHS_BATCH]
