"""TRANSPOSE_CONV, int8 per-channel: reference_integer_ops::TransposeConv.

TFLM scatters each input pixel times the filter into an int32 buffer the size
of the output; the sums are exact integers, so gathering them per output
pixel gives the same accumulators without that buffer: output (oy, ox) takes
filter tap (fy, fx) from input ((oy + PAD_H - fy) / STRIDE_H, ...) where the
division is exact and lands inside the input. Output-channel-outer like
CONV_2D: one channel's filter is read into scratch once. Param layout: ../opspec.py.
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
PAD_H = const(11)
PAD_W = const(12)
INPUT = const(13)
OUTPUT = const(14)
WEIGHTS = const(15)
SCRATCH = const(16)
INPUT_OFFSET = const(17)
OUTPUT_OFFSET = const(18)
ACT_MIN = const(19)
ACT_MAX = const(20)
PER_CHANNEL = const(21)
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
                    acc = bias
                    iy = iy1
                    fy = ty - iy * sh
                    while iy >= 0 and fy < fh:
                        ix = ix1
                        fx = tx - ix * sw
                        while ix >= 0 and fx < fw:
                            k = (fy * fw + fx) * ic
                            d = xb + (iy * iw + ix) * ic - k  # input index = filter index + d
                            for k in range(k, k + ic):
                                acc += w[k] * (arena[k + d] + in_off)
                            ix -= 1
                            fx += sw
                        iy -= 1
                        fy += sh
                    acc = mbqm(acc, m0, m1, m2, shift) + zp
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[yb + (oy * ow + ox) * oc] = acc
