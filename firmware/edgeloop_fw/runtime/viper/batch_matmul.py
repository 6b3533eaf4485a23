"""BATCH_MATMUL (int8, two activations) in viper: the arithmetic of kernels/batch_matmul.py.

Both operands are in the arena and the host turned adj_x/adj_y and the broadcast
batches into byte strides, so one viper call walks the loop nest with `ptr8` reads
along those strides. Requantization: see the docstring of fully_connected.py (the
same generated block); TFLM's one per-tensor multiplier, no bias, int8 clamp.
Param layout: ../opspec.py.
"""

import micropython
from micropython import const

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
MULTIPLIER = const(19)
SHIFT = const(20)
# --- end generated ---


@micropython.viper
def _bmm(a: ptr8, p):
    # The multiplier (2**30 <= m < 2**31) read as a machine word: p[...] would box it as a
    # long int on a 32-bit port. It is never negative, so x64's zero-extending load agrees.
    pmul = ptr32(p)
    mult = pmul[MULTIPLIER]
    shift = int(p[SHIFT])
    nb0 = int(p[BATCHES])
    nb1 = int(p[BATCHES + 1])
    rows = int(p[ROWS])
    cols = int(p[COLS])
    depth = int(p[DEPTH])
    lb0 = int(p[LHS_BATCH])
    lb1 = int(p[LHS_BATCH + 1])
    lr = int(p[LHS_ROW])
    lk = int(p[LHS_K])
    rb0 = int(p[RHS_BATCH])
    rb1 = int(p[RHS_BATCH + 1])
    rk = int(p[RHS_K])
    rc = int(p[RHS_COL])
    loff = int(p[LHS_OFFSET]) - 0x80  # x + lhs_offset == (byte ^ 0x80) + loff
    roff = int(p[RHS_OFFSET]) - 0x80
    zp = int(p[OUTPUT_OFFSET])
    lo = -128
    hi = 127
    y = int(p[OUTPUT])
    half = 0x20000000
    half += half  # 2**30 (a literal that large would be an object on 32-bit)
    # --- generated requant setup: do not edit ---
    bh = mult >> 16
    bl = mult & 0xFFFF
    lsh = 0
    e = 0
    if shift > 0:
        lsh = shift
    else:
        e = 0 - shift
    mask = (1 << e) - 1
    # --- end generated ---
    la = int(p[LHS])
    ra = int(p[RHS])
    b0 = 0
    while b0 < nb0:
        lb = la
        rb = ra
        b1 = 0
        while b1 < nb1:
            i = 0
            while i < rows:
                li = lb + i * lr
                j = 0
                while j < cols:
                    l = li
                    r = rb + j * rc
                    acc = 0
                    k = 0
                    while k < depth:
                        acc += ((a[l] ^ 0x80) + loff) * ((a[r] ^ 0x80) + roff)
                        l += lk
                        r += rk
                        k += 1
                    # --- generated requant: do not edit ---
                    # MultiplyByQuantizedMultiplier(acc, mult, shift)
                    if lsh:
                        acc = acc << lsh
                    if acc < 0:
                        ul = acc & 0xFFFF
                        uh = 0 - (acc >> 16)
                        if ul:
                            uh -= 1
                            ul = 0x10000 - ul
                        thr = half + 1
                    else:
                        uh = acc >> 16
                        ul = acc & 0xFFFF
                        thr = half
                    m = ul * bl
                    ma = uh * bl
                    mb = ul * bh
                    s = (ma & 0x7FFF) + (mb & 0x7FFF) + ((m >> 16) & 0xFFFF)
                    v = ((uh * bh) << 1) + (ma >> 15) + (mb >> 15) + (s >> 15)
                    if ((s & 0x7FFF) << 16) + (m & 0xFFFF) >= thr:
                        v += 1
                    if acc < 0:
                        v = 0 - v
                    if e:
                        t = mask >> 1
                        if v < 0:
                            t += 1
                        r = v & mask
                        v = v >> e
                        if r > t:
                            v += 1
                    v += zp
                    if v < lo:
                        v = lo
                    elif v > hi:
                        v = hi
                    # --- end generated ---
                    a[y] = v
                    y += 1
                    j += 1
                i += 1
            lb += lb1
            rb += rb1
            b1 += 1
        la += lb0
        ra += rb0
        b0 += 1


def eval(p, arena, model):
    _bmm(arena, p)
