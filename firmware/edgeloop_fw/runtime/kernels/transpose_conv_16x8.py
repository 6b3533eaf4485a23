"""TRANSPOSE_CONV, 16x8: reference_integer_ops::TransposeConv for int16 input, int8
per-channel filter, int64 bias.

kernels/transpose_conv.py's gather (each output pixel sums the taps whose scatter lands
on it: the same exact integer TFLM's int64 scratch holds) over little-endian int16
activations, zero points 0; the bias is added after the taps, then TFLM's int64
MultiplyByQuantizedMultiplier (qmath.mbqm64) and the clamp. Param layout: ../opspec.py.
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
PAD_H = const(11)
PAD_W = const(12)
INPUT = const(13)
OUTPUT = const(14)
WEIGHTS = const(15)
SCRATCH = const(16)
ACT_MIN = const(17)
ACT_MAX = const(18)
PER_CHANNEL = const(19)
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
                ty = oy + ph
                # taps fy = ty - iy * sh for iy from the largest inside both the input and the filter
                iy1 = ty // sh
                if iy1 > ih - 1:
                    iy1 = ih - 1
                for ox in range(ow):
                    tx = ox + pw
                    ix1 = tx // sw
                    if ix1 > iw - 1:
                        ix1 = iw - 1
                    acc = 0
                    iy = iy1
                    fy = ty - iy * sh
                    while iy >= 0 and fy < fh:
                        ix = ix1
                        fx = tx - ix * sw
                        while ix >= 0 and fx < fw:
                            k = (fy * fw + fx) * ic
                            i = xb + 2 * (iy * iw + ix) * ic
                            for k in range(k, k + ic):
                                acc += w[k] * ((arena[i + 1] << 8) | (arena[i] & 255))
                                i += 2
                            ix -= 1
                            fx += sw
                        iy -= 1
                        fy += sh
                    acc = mbqm64(acc + bias, red, ts)
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    o = yb + 2 * (oy * ow + ox) * oc
                    arena[o] = ((acc + 128) & 255) - 128
                    arena[o + 1] = acc >> 8
