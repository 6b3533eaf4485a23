"""DEPTHWISE_CONV_2D, int8 per-channel, in viper: the arithmetic of kernels/depthwise_conv_2d.py.

Channel-outer like the portable kernel: one viper call reads each channel's
taps into scratch (through `model.read_const`) and computes every output
pixel of that channel. The window is clipped to the input once per
row/column, so the MAC loop has no bounds tests; the taps of one filter row
are contiguous, the input under them is DILATION_W * IN_C bytes apart
(1 for micro_speech's layer, which then shares one index with the taps).
On an xtensawin board the MACs go to viper/xtensa.py: `dots` for the inside
of each row, or, for a 3x3 window (DS-CNN's), `dw3` for blocks of outputs
edges included (docs/xtensa.md); requantization stays here.
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
DEPTH_MULTIPLIER = const(7)
FILTER_H = const(8)
FILTER_W = const(9)
STRIDE_H = const(10)
STRIDE_W = const(11)
DILATION_H = const(12)
DILATION_W = const(13)
PAD_H = const(14)
PAD_W = const(15)
INPUT = const(16)
OUTPUT = const(17)
WEIGHTS = const(18)
SCRATCH = const(19)
INPUT_OFFSET = const(20)
OUTPUT_OFFSET = const(21)
ACT_MIN = const(22)
ACT_MAX = const(23)
PER_CHANNEL = const(24)
PER_CHANNEL_STEP = const(3)
BIAS = const(0)
MULTIPLIER = const(1)
SHIFT = const(2)
# --- end generated ---


# The MAC loop in Xtensa assembler: an xtensawin board's deploy ships viper/xtensa.mpy; on
# any other port the file is absent (ImportError) or, deployed as source, not compilable
# there (SyntaxError: invalid micropython decorator), and this kernel keeps its own loop.
try:
    from .xtensa import dots as _dot, dw3 as _dot3
except (ImportError, SyntaxError, ValueError):
    _dot = _dot3 = None
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
ACC_CAP = const(256)  # dw3's sums per call chunk: at most max(OUT_W, ACC_CAP) int32s


@micropython.viper
def _pat3(o: int, d: int, size: int) -> int:
    """A 3-tap window starting at o, packed as a small int: its unclipped taps
    [f0, f1) (bits 0-3, 4-7), the tap s + 4 its three in-bounds slots start at (bits
    8-11: s = f0 unless that runs past the end, then f1 - 3) and whether those slots
    fit the input (bit 12). Outputs alike in both directions are one dw3 block."""
    f0 = 0
    while f0 < 3 and o + f0 * d < 0:
        f0 += 1
    f1 = 3
    while f1 > f0 and o + (f1 - 1) * d >= size:
        f1 -= 1
    s = f0
    if o + (f0 + 2) * d > size - 1:
        s = f1 - 3
    ok = 0
    if f1 > f0 and o + s * d >= 0 and o + (s + 2) * d <= size - 1:
        ok = 1
    return f0 | f1 << 4 | (s + 4) << 8 | ok << 12


@micropython.viper
def _dw(acc: int, i: int, w: ptr8, a: ptr8, p, model, wbuf, use: int, dot, prm, accs, arena, w3: ptr8, w3buf):
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
    dm = int(p[DEPTH_MULTIPLIER])
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
    taps = fh * fw
    row = iw * ic
    st = dw * ic
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
    # Xtensa, 3x3 (use == 2): per channel and chunk of rows, one `dw3` call per block of
    # outputs whose row and column windows are clipped and shifted alike (_pat3); the
    # sums of a chunk's rows (rpc of them) land in accs, row after row
    rpc = ow
    if oh * ow < ACC_CAP:
        rpc = oh * ow
    elif ow < ACC_CAP:
        rpc = ACC_CAP
    rpc = rpc // ow
    # the windows' _pat3, once per inference: columns at w3buf's halfwords 6.., rows after
    pt = ptr16(w3buf)
    if use == 2:
        j = 0
        while j < ow:
            pt[6 + j] = int(_pat3(j * sw - pw, dw, iw))
            j += 1
        while j < ow + oh:
            pt[6 + j] = int(_pat3((j - ow) * sh - ph, dh, ih))
            j += 1
    if use:
        pp = ptr32(prm)
        pa = ptr32(accs)
        pp[P_N] = fw
        pp[P_XSKIP] = row * dh - fw * st
        pp[P_XSTEP] = st
        pp[P_WSKIP] = 0
        pp[P_OFF] = off + 0x80
        pp[P_XOUT] = sw * ic
        pp[P_W] = 0
    c = 0
    while c < oc:
        model.read_const(wofs + c * taps, wbuf)
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
        ci = c // dm
        b = 0
        while b < batches:
            xb = xin + b * ih * row + ci
            yb = yout + b * oh * ow * oc + c
            oy = 0
            r0 = 0
            r1 = 0
            while oy < oh:
                if use == 2 and oy == r1:
                    r0 = oy
                    r1 = oy + rpc
                    if r1 > oh:
                        r1 = oh
                    ra = r0
                    while ra < r1:
                        qy = pt[6 + ow + ra]
                        re = ra + 1
                        while re < r1 and pt[6 + ow + re] == qy:
                            re += 1
                        xa = 0
                        while (qy >> 12) and xa < ow:
                            qx = pt[6 + xa]
                            xe = xa + 1
                            while xe < ow and pt[6 + xe] == qx:
                                xe += 1
                            if qx >> 12:
                                by = ((qy >> 8) & 15) - 4
                                bx = ((qx >> 8) & 15) - 4
                                j = 0  # the taps in their shifted slots, a clipped one 0
                                while j < 9:
                                    ty = by + j // 3
                                    tx = bx + j % 3
                                    w3[j] = 0
                                    if ty >= (qy & 15) and ty < ((qy >> 4) & 15):
                                        if tx >= (qx & 15) and tx < ((qx >> 4) & 15):
                                            w3[j] = w[ty * 3 + tx]
                                    j += 1
                                n = xe - xa
                                pp[P_X] = xb + (ra * sh - ph + by * dh) * row + (xa * sw - pw + bx * dw) * ic
                                pp[P_NOUT] = n
                                pp[P_NROW] = re - ra
                                pp[P_YSKIP] = sh * row - n * sw * ic
                                pp[P_A] = 4 * ((ra - r0) * ow + xa)
                                pp[P_ASKIP] = 4 * (ow - n)
                                dot(arena, w3buf, prm, accs)
                            xa = xe
                        ra = re
                y0 = oy * sh - ph
                fy0 = 0
                while fy0 < fh and y0 + fy0 * dh < 0:
                    fy0 += 1
                fy1 = fh
                while fy1 > fy0 and y0 + (fy1 - 1) * dh >= ih:
                    fy1 -= 1
                rok = 0
                if use == 2:
                    rok = pt[6 + ow + oy] >> 12
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
                    if rok and pt[6 + ox] >> 12:
                        t = pa[(oy - r0) * ow + ox]
                        if t & sign:
                            t -= wrap
                        acc += t
                    elif use == 1 and ox >= olo and ox <= ohi and fy1 > fy0:
                        if ox == olo:
                            pp[P_RUNS] = fy1 - fy0
                            pp[P_X] = xb + (y0 + fy0 * dh) * row + (olo * sw - pw) * ic
                            pp[P_W] = fy0 * fw
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
                        fy = fy0
                        while fy < fy1:
                            k = fy * fw + fx0
                            end = fy * fw + fx1
                            xo = base + xb + (y0 + fy * dh) * row + (x0 + fx0 * dw) * ic
                            if st == 1:
                                x = ptr8(xo - k)
                                i = k
                                while i < end:
                                    acc += ((w[i] ^ 0x80) - 0x80) * ((x[i] ^ 0x80) + off)
                                    i += 1
                            else:
                                x = ptr8(xo)
                                j = 0
                                i = k
                                while i < end:
                                    acc += ((w[i] ^ 0x80) - 0x80) * ((x[j] ^ 0x80) + off)
                                    j += st
                                    i += 1
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
    its parameter block and int32 sums (one per output column; a 3x3 window's dw3: a
    chunk of rows, ACC_CAP at most, and its 9 shifted taps); made once per interpreter."""
    s = p[SCRATCH]
    w = arena[s:s + p[FILTER_H] * p[FILTER_W]]
    if _dot is None:
        return w, 0, None, None, w, None
    from array import array

    n = p[OUT_W]
    if p[FILTER_H] == 3 and p[FILTER_W] == 3:
        n = max(n, min(p[OUT_H] * n, ACC_CAP))
        # the 9 shifted taps, then (from byte 12) the rows' and columns' window patterns
        w3 = bytearray(12 + 2 * (p[OUT_W] + p[OUT_H]))
        return w, 2, array("i", bytes(4 * P_SIZE)), array("i", bytes(4 * n)), w3, _dot3
    return w, 1, array("i", bytes(4 * P_SIZE)), array("i", bytes(4 * n)), w, _dot


def eval(p, arena, model, views=None):
    w, use, prm, accs, w3, dot = views or bind(p, arena)
    # model, not model.read_const: a method call from viper makes no bound-method object
    _dw(0, 0, w, arena, p, model, w, use, dot, prm, accs, arena, w3, w3)
