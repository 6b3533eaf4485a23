"""CONV_2D, int8 per-channel: reference_integer_ops::ConvPerChannel.

Output-channel-outer: the channel's whole filter (FILTER_H*FILTER_W*IN_C
bytes) is read once into scratch, then swept over the image. Param layout:
see edgeloop/convert/ops/conv_2d.py.
"""

from ..qmath import mbqm

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PER_CHANNEL = const(23)


def eval(p, arena, model):
    batches, ih, iw, ic, oh, ow, oc = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    fh, fw, sh, sw, dh, dw, ph, pw = p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]
    xin, yout, wofs, scratch = p[15], p[16], p[17], p[18]
    in_off, zp, lo, hi = p[19], p[20], p[21], p[22]
    size = fh * fw * ic
    w = arena[scratch:scratch + size]
    row = iw * ic
    for c in range(oc):
        model.read_const(wofs + c * size, w)
        q = PER_CHANNEL + 3 * c
        bias = p[q]
        mult = p[q + 1]
        shift = p[q + 2]
        for b in range(batches):
            xb = xin + b * ih * row
            yb = yout + b * oh * ow * oc + c
            for oy in range(oh):
                y0 = oy * sh - ph
                for ox in range(ow):
                    x0 = ox * sw - pw
                    acc = bias
                    for fy in range(fh):
                        iy = y0 + fy * dh
                        if iy < 0 or iy >= ih:
                            continue
                        base = xb + iy * row
                        kbase = fy * fw * ic
                        for fx in range(fw):
                            ix = x0 + fx * dw
                            if ix < 0 or ix >= iw:
                                continue
                            xo = base + ix * ic
                            k = kbase + fx * ic
                            for i in range(ic):
                                acc += w[k + i] * (arena[xo + i] + in_off)
                    acc = mbqm(acc, mult, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
