"""DEPTHWISE_CONV_2D, int8 per-channel: reference_integer_ops::DepthwiseConvPerChannel.

Channel-outer order: one channel's taps are read from the file into scratch,
then every output pixel of that channel is computed. Integer sums do not
depend on order, so the bytes equal TFLM's; `eval` allocates nothing. Param layout: see
edgeloop/convert/ops/depthwise_conv_2d.py.
"""

from ..qmath import mbqm, mbqm_wide

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PER_CHANNEL = const(24)


def bind(p, arena):
    """The scratch view one channel's taps are read into, made once at load."""
    s = p[19]
    return arena[s:s + p[8] * p[9]]


def eval(p, arena, model, w=None):
    batches = p[0]
    ih = p[1]
    iw = p[2]
    ic = p[3]
    oh = p[4]
    ow = p[5]
    oc = p[6]
    dm = p[7]
    fh = p[8]
    fw = p[9]
    sh = p[10]
    sw = p[11]
    dh = p[12]
    dw = p[13]
    ph = p[14]
    pw = p[15]
    xin = p[16]
    yout = p[17]
    wofs = p[18]
    in_off = p[20]
    zp = p[21]
    lo = p[22]
    hi = p[23]
    taps = fh * fw
    if w is None:
        w = bind(p, arena)
    tail = PER_CHANNEL + 3 * oc  # the limbs; absent in hand-made params
    step = p[tail] if len(p) > tail else -1
    row = iw * ic
    for c in range(oc):
        model.read_const(wofs + c * taps, w)
        q = PER_CHANNEL + 3 * c
        bias = p[q]
        shift = p[q + 2]
        if step >= 0:
            m = tail + 1 + step * c
            m0 = p[m]
            m1 = p[m + 1]
            m2 = p[m + 2]
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
                    if step < 0:
                        acc = mbqm_wide(acc, p[q + 1], shift) + zp
                    else:
                        acc = mbqm(acc, m0, m1, m2, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
