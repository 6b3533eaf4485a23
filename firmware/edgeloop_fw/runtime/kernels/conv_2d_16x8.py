"""CONV_2D, 16x8: reference_integer_ops::ConvPerChannel for int16 input, int8 filter, int64 bias.

The int8 kernel's loops (one output channel's filter in scratch, swept over
the image) over little-endian int16 activations; zero points are 0. The bias
is added after the taps, as TFLM does, then qmath.mbqm64. Param layout: ../opspec.py.
"""

from ..qmath import mbqm64

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
ACT_MIN = const(19)
ACT_MAX = const(20)
PER_CHANNEL = const(21)
PER_CHANNEL_STEP = const(6)
BIAS_HI = const(0)
BIAS_LO = const(1)
REDUCED = const(4)
TOTAL_SHIFT = const(5)
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
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    size = fh * fw * ic
    if w is None:
        w = bind(p, arena)
    row = iw * ic
    for c in range(oc):
        model.read_const(wofs + c * size, w)
        q = PER_CHANNEL + PER_CHANNEL_STEP * c
        bias = p[q + BIAS_LO]
        if p[q + BIAS_HI]:  # a bias beyond int32 (a shift by 32 is never a small int)
            bias += p[q + BIAS_HI] << 32
        red = p[q + REDUCED]
        ts = p[q + TOTAL_SHIFT]
        for b in range(batches):
            xb = xin + 2 * b * ih * row
            yb = yout + 2 * (b * oh * ow * oc + c)
            for oy in range(oh):
                y0 = oy * sh - ph
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
                    acc = 0
                    for fy in range(fy0, fy1):
                        for fx in range(fx0, fx1):
                            k = (fy * fw + fx) * ic
                            i = xb + 2 * (((y0 + fy * dh) * iw + x0 + fx * dw) * ic)
                            for k in range(k, k + ic):
                                acc += w[k] * ((arena[i + 1] << 8) | (arena[i] & 255))
                                i += 2
                    acc = mbqm64(acc + bias, red, ts)
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    o = yb + 2 * (oy * ow + ox) * oc
                    arena[o] = ((acc + 128) & 255) - 128
                    arena[o + 1] = acc >> 8
