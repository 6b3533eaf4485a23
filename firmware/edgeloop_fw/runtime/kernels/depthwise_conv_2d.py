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
    sx = dw * ic  # input step from one tap to the next along x, and along y
    sy = dh * row
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
                # The taps inside the image: no bounds test per MAC.
                fy0 = (dh - 1 - y0) // dh if y0 < 0 else 0
                fy1 = (ih - 1 - y0) // dh + 1
                if fy1 > fh:
                    fy1 = fh
                for ox in range(ow):
                    x0 = ox * sw - pw
                    fx0 = (dw - 1 - x0) // dw if x0 < 0 else 0
                    fx1 = (iw - 1 - x0) // dw + 1
                    if fx1 > fw:
                        fx1 = fw
                    acc = bias
                    base = xb + y0 * row + x0 * ic + fx0 * sx
                    for fy in range(fy0, fy1):
                        i = base + fy * sy
                        k = fy * fw + fx0
                        if sx == 1:  # one input channel, no x dilation: input index = tap index + i
                            i -= k
                            for k in range(k, k + fx1 - fx0):
                                acc += w[k] * (arena[k + i] + in_off)
                        else:
                            for k in range(k, k + fx1 - fx0):
                                acc += w[k] * (arena[i] + in_off)
                                i += sx
                    if step < 0:
                        acc = mbqm_wide(acc, p[q + 1], shift) + zp
                    else:
                        acc = mbqm(acc, m0, m1, m2, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
