"""DEPTHWISE_CONV_2D, int8 per-channel: reference_integer_ops::DepthwiseConvPerChannel.

Channel-outer order: one channel's taps are read from the file into scratch,
then every output pixel of that channel is computed. Integer sums do not
depend on order, so the bytes equal TFLM's; `eval` allocates nothing. Param layout: see
../opspec.py.
"""

from ..qmath import mbqm

from .. import const

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
SHIFT = const(2)
# --- end generated ---


def bind(p, arena):
    """The scratch view one channel's taps are read into, made once at load."""
    s = p[SCRATCH]
    return arena[s:s + p[FILTER_H] * p[FILTER_W]]


def eval(p, arena, model, w=None):
    batches = p[BATCHES]
    ih = p[IN_H]
    iw = p[IN_W]
    ic = p[IN_C]
    oh = p[OUT_H]
    ow = p[OUT_W]
    oc = p[OUT_C]
    dm = p[DEPTH_MULTIPLIER]
    fh = p[FILTER_H]
    fw = p[FILTER_W]
    sh = p[STRIDE_H]
    sw = p[STRIDE_W]
    dh = p[DILATION_H]
    dw = p[DILATION_W]
    ph = p[PAD_H]
    pw = p[PAD_W]
    xin = p[INPUT]
    yout = p[OUTPUT]
    wofs = p[WEIGHTS]
    in_off = p[INPUT_OFFSET]
    zp = p[OUTPUT_OFFSET]
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    taps = fh * fw
    if w is None:
        w = bind(p, arena)
    tail = PER_CHANNEL + PER_CHANNEL_STEP * oc  # quant.limb_tail: STEP, then the limbs
    step = p[tail]
    row = iw * ic
    sx = dw * ic  # input step from one tap to the next along x, and along y
    sy = dh * row
    for c in range(oc):
        model.read_const(wofs + c * taps, w)
        q = PER_CHANNEL + PER_CHANNEL_STEP * c
        bias = p[q + BIAS]
        shift = p[q + SHIFT]
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
                    acc = mbqm(acc, m0, m1, m2, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
