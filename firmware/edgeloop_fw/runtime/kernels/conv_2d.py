"""CONV_2D, int8 per-channel: reference_integer_ops::ConvPerChannel.

Output-channel-outer: the channel's whole filter (FILTER_H*FILTER_W*IN_C
bytes) is read once into scratch, then swept over the image; `eval` allocates nothing. Param layout:
see edgeloop/convert/ops/conv_2d.py.
"""

from ..qmath import mbqm, mbqm_wide

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PER_CHANNEL = const(23)


def bind(p, arena):
    """The scratch view one output channel's filter is read into, made once at load."""
    s = p[18]
    return arena[s:s + p[7] * p[8] * p[3]]


def eval(p, arena, model, w=None):
    batches = p[0]
    ih = p[1]
    iw = p[2]
    ic = p[3]
    oh = p[4]
    ow = p[5]
    oc = p[6]
    fh = p[7]
    fw = p[8]
    sh = p[9]
    sw = p[10]
    dh = p[11]
    dw = p[12]
    ph = p[13]
    pw = p[14]
    xin = p[15]
    yout = p[16]
    wofs = p[17]
    in_off = p[19]
    zp = p[20]
    lo = p[21]
    hi = p[22]
    size = fh * fw * ic
    if w is None:
        w = bind(p, arena)
    tail = PER_CHANNEL + 3 * oc  # the limbs; absent in hand-made params
    step = p[tail] if len(p) > tail else -1
    row = iw * ic
    sx = dw * ic  # input step from one tap to the next along x, and along y
    sy = dh * row
    for c in range(oc):
        model.read_const(wofs + c * size, w)
        q = PER_CHANNEL + 3 * c
        bias = p[q]
        shift = p[q + 2]
        if step >= 0:
            m = tail + 1 + step * c
            m0 = p[m]
            m1 = p[m + 1]
            m2 = p[m + 2]
        for b in range(batches):
            xb = xin + b * ih * row
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
                    base = xb + y0 * row + x0 * ic
                    for fy in range(fy0, fy1):
                        for fx in range(fx0, fx1):
                            k = (fy * fw + fx) * ic
                            d = base + fy * sy + fx * sx - k  # input index = filter index + d
                            for k in range(k, k + ic):
                                acc += w[k] * (arena[k + d] + in_off)
                    if step < 0:
                        acc = mbqm_wide(acc, p[q + 1], shift) + zp
                    else:
                        acc = mbqm(acc, m0, m1, m2, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
