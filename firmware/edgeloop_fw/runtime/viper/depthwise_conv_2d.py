"""DEPTHWISE_CONV_2D, int8 per-channel, in viper: the arithmetic of kernels/depthwise_conv_2d.py.

Channel-outer like the portable kernel: one viper call reads each channel's
taps into scratch (through `model.read_const`) and computes every output
pixel of that channel. The window is clipped to the input once per
row/column, so the MAC loop has no bounds tests; the taps of one filter row
are contiguous, the input under them is DILATION_W * IN_C bytes apart
(1 for micro_speech's layer, which then shares one index with the taps).
Requantization: see the docstring of fully_connected.py (same code).
Param layout: edgeloop/convert/ops/depthwise_conv_2d.py.
"""

import micropython


@micropython.viper
def _dw(acc: int, i: int, w: ptr8, a: ptr8, p, read, wbuf):
    batches = int(p[0])
    ih = int(p[1])
    iw = int(p[2])
    ic = int(p[3])
    oh = int(p[4])
    ow = int(p[5])
    oc = int(p[6])
    dm = int(p[7])
    fh = int(p[8])
    fw = int(p[9])
    sh = int(p[10])
    sw = int(p[11])
    dh = int(p[12])
    dw = int(p[13])
    ph = int(p[14])
    pw = int(p[15])
    xin = int(p[16])
    yout = int(p[17])
    wofs = int(p[18])
    off = int(p[20]) - 0x80  # x + input_offset == (byte ^ 0x80) + off
    zp = int(p[21])
    lo = int(p[22])
    hi = int(p[23])
    half = 0x20000000
    half += half  # 2**30 (a literal that large would be an object on 32-bit)
    taps = fh * fw
    row = iw * ic
    st = dw * ic
    base = uint(a)
    c = 0
    while c < oc:
        read(wofs + c * taps, wbuf)
        q = 24 + 3 * c
        bias = int(p[q])
        mult = int(p[q + 1])
        shift = int(p[q + 2])
        bh = mult >> 16
        bl = mult & 0xFFFF
        lsh = 0
        e = 0
        if shift > 0:
            lsh = shift
        else:
            e = 0 - shift
        mask = (1 << e) - 1
        ci = c // dm
        b = 0
        while b < batches:
            xb = xin + b * ih * row + ci
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
                    a[yb + (oy * ow + ox) * oc] = v
                    ox += 1
                oy += 1
            b += 1
        c += 1


def eval(p, arena, model):
    s = p[19]
    w = arena[s:s + p[8] * p[9]]
    _dw(0, 0, w, arena, p, model.read_const, w)
