"""DEPTHWISE_CONV_2D on the C kernel, weights streamed in input-channel groups
(each input channel's DEPTH_MULTIPLIER filters are contiguous in the file).
Params: ../opspec.py."""

from . import elnative, group, view

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
IN_C = const(3)
DEPTH_MULTIPLIER = const(7)
FILTER_H = const(8)
FILTER_W = const(9)
WEIGHTS = const(18)
# --- end generated ---

_dw = elnative.depthwise_conv_2d


def eval(p, arena, model):
    k = p[FILTER_H] * p[FILTER_W]
    dm = p[DEPTH_MULTIPLIER]
    ic = p[IN_C]
    wofs = p[WEIGHTS]
    g = group(ic, k * dm)
    s = view(1, elnative.dw_scratch_size(p, g))
    mapped = model.mapped  # the file in memory: groups read in place
    i = 0
    while i < ic:
        n = ic - i if ic - i < g else g
        if mapped is not None:
            _dw(p, arena, mapped, s, i, n, wofs + i * dm * k)
        else:
            w = view(0, n * dm * k)
            model.read_const(wofs + i * dm * k, w)
            _dw(p, arena, w, s, i, n)
        i += n
