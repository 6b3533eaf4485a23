"""TRANSPOSE_CONV, int8 per-channel, in viper: the arithmetic of kernels/transpose_conv.py.

Output-channel-outer and gathering, like the portable kernel: one viper call
reads each channel's filter into scratch (through `model.read_const`) and, per
output pixel, walks only the taps whose input pixel exists (input row
iy = (oy + PAD_H - fy) / STRIDE_H exactly), IN_C contiguous MACs each.
Requantization: see the docstring of fully_connected.py (the same generated block).
Param layout: ../opspec.py.
"""

import micropython
from micropython import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
BATCHES = const(0)
IN_H = const(1)
IN_W = const(2)
IN_C = const(3)
OUT_H = const(4)
OUT_W = const(5)
OUT_C = const(6)
FILTER_H = const(7)
FILTER_W = const(8)
STRIDE_H = const(9)
STRIDE_W = const(10)
PAD_H = const(11)
PAD_W = const(12)
INPUT = const(13)
OUTPUT = const(14)
WEIGHTS = const(15)
SCRATCH = const(16)
INPUT_OFFSET = const(17)
OUTPUT_OFFSET = const(18)
ACT_MIN = const(19)
ACT_MAX = const(20)
PER_CHANNEL = const(21)
PER_CHANNEL_STEP = const(3)
BIAS = const(0)
MULTIPLIER = const(1)
SHIFT = const(2)
# --- end generated ---


@micropython.viper
def _tconv(acc: int, i: int, w: ptr8, a: ptr8, p, model, wbuf):
    # The multiplier (2**30 <= m < 2**31) read as a machine word: p[...] would box it as a
    # long int on a 32-bit port, a heap object per channel per inference. It is never
    # negative, so x64's zero-extending ptr32 load gives the same value.
    pmul = ptr32(p)
    batches = int(p[BATCHES])
    ih = int(p[IN_H])
    iw = int(p[IN_W])
    ic = int(p[IN_C])
    oh = int(p[OUT_H])
    ow = int(p[OUT_W])
    oc = int(p[OUT_C])
    fh = int(p[FILTER_H])
    fw = int(p[FILTER_W])
    sh = int(p[STRIDE_H])
    sw = int(p[STRIDE_W])
    ph = int(p[PAD_H])
    pw = int(p[PAD_W])
    xin = int(p[INPUT])
    yout = int(p[OUTPUT])
    wofs = int(p[WEIGHTS])
    off = int(p[INPUT_OFFSET]) - 0x80  # x + input_offset == (byte ^ 0x80) + off
    zp = int(p[OUTPUT_OFFSET])
    lo = int(p[ACT_MIN])
    hi = int(p[ACT_MAX])
    half = 0x20000000
    half += half  # 2**30 (a literal that large would be an object on 32-bit)
    size = fh * fw * ic
    row = iw * ic
    base = uint(a)
    c = 0
    while c < oc:
        model.read_const(wofs + c * size, wbuf)
        q = PER_CHANNEL + PER_CHANNEL_STEP * c
        bias = int(p[q + BIAS])
        mult = pmul[q + MULTIPLIER]
        shift = int(p[q + SHIFT])
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
        b = 0
        while b < batches:
            xb = xin + b * ih * row
            yb = yout + b * oh * ow * oc + c
            # (qy, ry) = divmod(oy + PAD_H, STRIDE_H), kept by counting (no division in the loop)
            qy = 0
            ry = ph
            while ry >= sh:
                ry -= sh
                qy += 1
            oy = 0
            while oy < oh:
                iy1 = qy
                if iy1 > ih - 1:
                    iy1 = ih - 1
                fy1 = oy + ph - iy1 * sh
                qx = 0
                rx = pw
                while rx >= sw:
                    rx -= sw
                    qx += 1
                ox = 0
                while ox < ow:
                    ix1 = qx
                    if ix1 > iw - 1:
                        ix1 = iw - 1
                    fx1 = ox + pw - ix1 * sw
                    acc = bias
                    iy = iy1
                    fy = fy1
                    while iy >= 0 and fy < fh:
                        ix = ix1
                        fx = fx1
                        while ix >= 0 and fx < fw:
                            k = (fy * fw + fx) * ic
                            x = ptr8(base + xb + (iy * iw + ix) * ic - k)  # input index = filter index + d
                            i = k
                            end = k + ic
                            while i < end:
                                acc += ((w[i] ^ 0x80) - 0x80) * ((x[i] ^ 0x80) + off)
                                i += 1
                            ix -= 1
                            fx += sw
                        iy -= 1
                        fy += sh
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
                    a[yb + (oy * ow + ox) * oc] = v
                    rx += 1
                    if rx == sw:
                        rx = 0
                        qx += 1
                    ox += 1
                ry += 1
                if ry == sh:
                    ry = 0
                    qy += 1
                oy += 1
            b += 1
        c += 1


def bind(p, arena):
    """The scratch view, made once per interpreter: a slice of the arena is a heap object."""
    s = p[SCRATCH]
    return arena[s:s + p[FILTER_H] * p[FILTER_W] * p[IN_C]]


def eval(p, arena, model, views=None):
    w = views or bind(p, arena)
    # model, not model.read_const: a method call from viper makes no bound-method object
    _tconv(0, 0, w, arena, p, model, w)
