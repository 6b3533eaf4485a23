"""DEPTHWISE_CONV_2D, int8 per-channel: reference_integer_ops::DepthwiseConvPerChannel.

Channel-outer order: one channel's taps are read from the file into scratch,
then every output pixel of that channel is computed. Integer sums do not
depend on order, so the bytes equal TFLM's. Param layout: see
edgeloop/convert/ops/depthwise_conv_2d.py.
"""

from ..qmath import mbqm

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PER_CHANNEL = const(24)


def eval(p, arena, model):
    batches, ih, iw, ic, oh, ow, oc, dm = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    fh, fw, sh, sw, dh, dw, ph, pw = p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]
    xin, yout, wofs, scratch = p[16], p[17], p[18], p[19]
    in_off, zp, lo, hi = p[20], p[21], p[22], p[23]
    taps = fh * fw
    w = arena[scratch:scratch + taps]
    row = iw * ic
    for c in range(oc):
        model.read_const(wofs + c * taps, w)
        q = PER_CHANNEL + 3 * c
        bias = p[q]
        mult = p[q + 1]
        shift = p[q + 2]
        ci = c // dm
        for b in range(batches):
            xb = xin + b * ih * row + ci
            yb = yout + b * oh * ow * oc + c
            for oy in range(oh):
                y0 = oy * sh - ph
                for ox in range(ow):
                    x0 = ox * sw - pw
                    acc = bias
                    k = 0
                    for fy in range(fh):
                        iy = y0 + fy * dh
                        if iy < 0 or iy >= ih:
                            k += fw
                            continue
                        base = xb + iy * row
                        for fx in range(fw):
                            ix = x0 + fx * dw
                            if 0 <= ix < iw:
                                acc += w[k] * (arena[base + ix * ic] + in_off)
                            k += 1
                    acc = mbqm(acc, mult, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
