"""Load-time checks of one op's params, shared by the kernels' `check` functions.

A kernel indexes the arena and seeks in the file at offsets its params give,
and the viper and C levels do so without bounds checks: a param pointing
outside the arena would corrupt memory there, a zero count divide by zero, a
huge one loop for hours. Each kernel module's `check(p, model)` states what
its `eval` reads and writes through these helpers, once, when the model is
loaded; `eval` itself then stays free of tests and allocations.

Every helper raises ModelFileError with the field and the limit; the loader
adds which op it was. Sizes are multiplied only after each factor is known
to be at most the limit, so no product grows past the arena or the file
(a board without long ints would overflow).
"""

from .loader import ModelFileError

SHIFT_MIN = -31  # TFLM's QuantizeMultiplier exponents
SHIFT_MAX = 31
LIMB_MIN = -0x4000  # qmath.split: m0, m1 in [-2**14, 2**14), m2 in [0, 2]
LIMB_MAX = 0x3FFF


def fixed(p, n):
    """The op has at least its n fixed params, so they can be read."""
    if len(p) < n:
        raise ModelFileError("has %d params, its layout needs at least %d" % (len(p), n))


def length(p, n):
    """The op has exactly n params (its layout from opspec, tails included)."""
    if len(p) != n:
        raise ModelFileError("has %d params, its layout needs %d" % (len(p), n))


def within(v, lo, hi, what):
    if v < lo or v > hi:
        raise ModelFileError("%s is %d, must be in [%d, %d]" % (what, v, lo, hi))
    return v


def _size(dims, limit, what):
    """The product of `dims` (each at least 1), at most `limit`."""
    n = 1
    for v in dims:
        if v < 1:
            raise ModelFileError("%s has a dimension of %d, must be at least 1" % (what, v))
        n *= v if v <= limit else limit + 1
        if n > limit:
            raise ModelFileError("%s is more than %d bytes" % (what, limit))
    return n


def arena(start, dims, model, what):
    """The bytes from `start`, a block of `dims`, are inside the arena; returns their count."""
    n = _size(dims, model.arena_size, what)
    if start < 0 or start + n > model.arena_size:
        raise ModelFileError("%s [%d, %d) is outside the %d-byte arena" % (what, start, start + n,
                                                                           model.arena_size))
    return n


def const(start, dims, model, what):
    """The bytes from file offset `start`, a block of `dims`, are inside the constants area."""
    lo = model.const_offset
    hi = lo + model.const_size
    n = _size(dims, model.const_size, what)
    if start < lo or start + n > hi:
        raise ModelFileError("%s [%d, %d) is outside the constants [%d, %d)" % (what, start, start + n, lo, hi))
    return n


def clamp(lo, hi):
    """The fused activation's int8 range."""
    within(hi, -128, 127, "act_max")
    within(lo, -128, hi, "act_min")


def requant(p, first, units, limbs_at):
    """The per-unit (bias, multiplier, shift) rows from `first` and quant.limb_tail at
    `limbs_at`; returns the op's param count (the tail's length depends on its STEP)."""
    if limbs_at >= len(p):
        raise ModelFileError("has %d params, its layout needs more than %d" % (len(p), limbs_at))
    for c in range(units):
        q = first + 3 * c
        within(p[q + 1], 0, 0x7FFFFFFF, "multiplier of unit %d" % c)
        within(p[q + 2], SHIFT_MIN, SHIFT_MAX, "shift of unit %d" % c)
    step = p[limbs_at]
    if step != 0 and step != 3:
        raise ModelFileError("limb step is %d, must be 0 or 3" % step)
    n = limbs_at + 1 + (3 * units if step else 3)
    length(p, n)
    limbs(p, limbs_at + 1, n - limbs_at - 1)
    return n


def limbs(p, first, n):
    """n/3 multipliers as qmath.split limbs."""
    for i in range(first, first + n, 3):
        within(p[i], LIMB_MIN, LIMB_MAX, "multiplier limb %d" % (i - first))
        within(p[i + 1], LIMB_MIN, LIMB_MAX, "multiplier limb %d" % (i + 1 - first))
        within(p[i + 2], 0, 2, "multiplier limb %d" % (i + 2 - first))


def conv(p, model, filt, per_channel):
    """What CONV_2D and DEPTHWISE_CONV_2D share. Their opspec layouts agree: BATCHES, IN_H, IN_W,
    IN_C, OUT_H, OUT_W, OUT_C are params 0..6 and from FILTER_H (`filt`) come filter, stride,
    dilation and padding (height, width each), then INPUT, OUTPUT, WEIGHTS, SCRATCH,
    INPUT_OFFSET, OUTPUT_OFFSET, ACT_MIN, ACT_MAX; the per-channel rows start at `per_channel`."""
    fixed(p, per_channel)
    arena(p[filt + 8], (p[0], p[1], p[2], p[3]), model, "input [batches, in_h, in_w, in_c]")
    arena(p[filt + 9], (p[0], p[4], p[5], p[6]), model, "output [batches, out_h, out_w, out_c]")
    window(p[1], p[4], p[filt], p[filt + 2], p[filt + 4], p[filt + 6], "height")
    window(p[2], p[5], p[filt + 1], p[filt + 3], p[filt + 5], p[filt + 7], "width")
    clamp(p[filt + 14], p[filt + 15])
    requant(p, per_channel, p[6], per_channel + 3 * p[6])


def window(in_size, out_size, filt, stride, dilation, pad, what):
    """A conv/pool axis as TFLM sizes it: every output's window starts inside the padded
    input, and the dilated filter is no wider than the padded input plus one."""
    within(stride, 1, 0x7FFFFFFF, what + " stride")
    within(dilation, 1, 0x7FFFFFFF, what + " dilation")
    within(pad, 0, (filt - 1) * dilation, what + " padding")
    if (out_size - 1) * stride - pad >= in_size:
        raise ModelFileError("%s: output %d with stride %d starts past the input's %d" % (what, out_size,
                                                                                         stride, in_size))
    if (filt - 1) * dilation > in_size + 2 * pad:
        raise ModelFileError("%s: filter %d (dilation %d) is wider than the padded input %d" % (
            what, filt, dilation, in_size + 2 * pad))
