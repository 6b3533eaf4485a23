"""CONV_2D, int8 per-channel, in viper: the arithmetic of kernels/conv_2d.py.

Output-channel-outer like the portable kernel: one viper call reads each
channel's filter into scratch (through `model.read_const`) and sweeps the
image. The window is clipped to the input once per row/column, so the MAC
loop has no bounds tests; with dilation_w 1 a filter row and the input
pixels under it are both contiguous, so one flat loop covers
(fx1 - fx0) * IN_C MACs. Weights and input share one index `i` (the input
pointer is offset by the weight offset), which the loop keeps in a register
with `acc` and the filter pointer (viper's first three locals).
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
DILATION_H = const(11)
DILATION_W = const(12)
PAD_H = const(13)
PAD_W = const(14)
INPUT = const(15)
OUTPUT = const(16)
WEIGHTS = const(17)
SCRATCH = const(18)
INPUT_OFFSET = const(19)
OUTPUT_OFFSET = const(20)
ACT_MIN = const(21)
ACT_MAX = const(22)
PER_CHANNEL = const(23)
PER_CHANNEL_STEP = const(3)
BIAS = const(0)
MULTIPLIER = const(1)
SHIFT = const(2)
# --- end generated ---


# The MAC loop in Xtensa assembler: an xtensawin board's deploy ships viper/xtensa.mpy; on
# any other port the file is absent (ImportError) or, deployed as source, not compilable
# there (SyntaxError: invalid micropython decorator), and this kernel keeps its own loop.
try:
    from .xtensa import dot as _dot
except (ImportError, SyntaxError, ValueError):
    _dot = None
# viper/xtensa.py's parameter block (a const inlines only in its own module;
# tests/firmware/cpython/test_xtensa_asm.py checks these against that file)
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


@micropython.viper
def _conv(acc: int, i: int, w: ptr8, a: ptr8, p, model, wbuf, use: int, dot, prm, accs, arena):
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
    dh = int(p[DILATION_H])
    dw = int(p[DILATION_W])
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
    sign = half + half  # bit 31
    wrap = sign + sign  # 2**32: 0 on a 32-bit word
    size = fh * fw * ic
    row = iw * ic
    base = uint(a)
    # Xtensa (use): the outputs of a row whose window lies wholly inside the input
    # horizontally, olo .. ohi, go through one `dot` call per row and channel
    olo = (pw + sw - 1) // sw
    ohi = iw - 1 - (fw - 1) * dw + pw
    if ohi < 0:
        ohi = -1
    else:
        ohi = ohi // sw
    if ohi > ow - 1:
        ohi = ow - 1
    if use:
        pp = ptr32(prm)
        pa = ptr32(accs)
        pp[P_N] = fw * ic
        pp[P_XSKIP] = row * dh - fw * ic
        pp[P_XSTEP] = 1
        pp[P_WSKIP] = 0
        pp[P_OFF] = off + 0x80
        pp[P_XOUT] = sw * ic
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
            oy = 0
            while oy < oh:
                y0 = oy * sh - ph
                fy0 = 0
                while fy0 < fh and y0 + fy0 * dh < 0:
                    fy0 += 1
                fy1 = fh
                while fy1 > fy0 and y0 + (fy1 - 1) * dh >= ih:
                    fy1 -= 1
                ox = 0
                while ox < ow:
                    x0 = ox * sw - pw
                    fx0 = 0
                    while fx0 < fw and x0 + fx0 * dw < 0:
                        fx0 += 1
                    fx1 = fw
                    while fx1 > fx0 and x0 + (fx1 - 1) * dw >= iw:
                        fx1 -= 1
                    acc = bias
                    if use and ox >= olo and ox <= ohi and fy1 > fy0:
                        if ox == olo:
                            pp[P_RUNS] = fy1 - fy0
                            pp[P_X] = xb + (y0 + fy0 * dh) * row + (olo * sw - pw) * ic
                            pp[P_W] = fy0 * fw * ic
                            pp[P_NOUT] = ohi - olo + 1
                            j = 0
                            while j <= ohi - olo:
                                pa[j] = 0
                                j += 1
                            dot(arena, wbuf, prm, accs)
                        t = pa[ox - olo]
                        if t & sign:  # int32 sign on any word size (x64's ptr32 zero-extends)
                            t -= wrap
                        acc += t
                    else:
                        if dw == 1:
                            runs = 1
                            n = (fx1 - fx0) * ic
                        else:
                            runs = fx1 - fx0
                            n = ic
                        fy = fy0
                        while fy < fy1:
                            k = (fy * fw + fx0) * ic
                            xo = base + xb + (y0 + fy * dh) * row + (x0 + fx0 * dw) * ic
                            j = 0
                            while j < runs:
                                x = ptr8(xo - k)
                                i = k
                                end = k + n
                                while i < end:
                                    acc += ((w[i] ^ 0x80) - 0x80) * ((x[i] ^ 0x80) + off)
                                    i += 1
                                k += ic
                                xo += dw * ic
                                j += 1
                            fy += 1
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
                    ox += 1
                oy += 1
            b += 1
        c += 1


def bind(p, arena):
    """The scratch view (a slice of the arena is a heap object) and, for the Xtensa loop,
    its parameter block and one int32 sum per output column; made once per interpreter."""
    s = p[SCRATCH]
    w = arena[s:s + p[FILTER_H] * p[FILTER_W] * p[IN_C]]
    if _dot is None or p[DILATION_W] != 1:
        return w, 0, None, None
    from array import array

    return w, 1, array("i", bytes(4 * P_SIZE)), array("i", bytes(4 * p[OUT_W]))


def eval(p, arena, model, views=None):
    w, use, prm, accs = views or bind(p, arena)
    # model, not model.read_const: a method call from viper makes no bound-method object
    _conv(0, 0, w, arena, p, model, w, use, _dot, prm, accs, arena)
