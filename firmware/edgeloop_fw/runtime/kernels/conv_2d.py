"""CONV_2D, int8 per-channel: reference_integer_ops::ConvPerChannel.

Output-channel-outer: the channel's whole filter (FILTER_H*FILTER_W*IN_C
bytes) is read once into scratch, then swept over the image; `eval` allocates nothing. Param layout:
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
SHIFT = const(2)
# --- end generated ---


def bind(p, arena):
    """The scratch view one output channel's filter is read into, made once at load."""
    s = p[SCRATCH]
    return arena[s:s + p[FILTER_H] * p[FILTER_W] * p[IN_C]]


def eval(p, arena, model, w=None):
    batches = p[BATCHES]
    ih = p[IN_H]
    iw = p[IN_W]
    ic = p[IN_C]
    oh = p[OUT_H]
    ow = p[OUT_W]
    oc = p[OUT_C]
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
    size = fh * fw * ic
    if w is None:
        w = bind(p, arena)
    tail = PER_CHANNEL + PER_CHANNEL_STEP * oc  # quant.limb_tail: STEP, then the limbs
    step = p[tail]
    row = iw * ic
    sx = dw * ic  # input step from one tap to the next along x, and along y
    sy = dh * row
    for c in range(oc):
        model.read_const(wofs + c * size, w)
        q = PER_CHANNEL + PER_CHANNEL_STEP * c
        bias = p[q + BIAS]
        shift = p[q + SHIFT]
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
                    acc = mbqm(acc, m0, m1, m2, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
