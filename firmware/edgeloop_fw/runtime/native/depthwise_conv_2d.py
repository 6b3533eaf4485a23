"""DEPTHWISE_CONV_2D on the C kernel, weights streamed in input-channel groups
(each input channel's DEPTH_MULTIPLIER filters are contiguous in the file).
Params: edgeloop/convert/ops/depthwise_conv_2d.py (3 IN_C, 7 DEPTH_MULTIPLIER,
8/9 FILTER_H/W, 18 WEIGHTS)."""

from . import elnative, group, view

_dw = elnative.depthwise_conv_2d


def eval(p, arena, model):
    k = p[8] * p[9]
    dm = p[7]
    ic = p[3]
    wofs = p[18]
    g = group(ic, k * dm)
    s = view(1, elnative.dw_scratch_size(p, g))
    i = 0
    while i < ic:
        n = ic - i if ic - i < g else g
        w = view(0, n * dm * k)
        model.read_const(wofs + i * dm * k, w)
        _dw(p, arena, w, s, i, n)
        i += n
