"""CONV_2D on the C kernel, weights streamed in output-channel groups.
Params: edgeloop/convert/ops/conv_2d.py (3 IN_C, 6 OUT_C, 7/8 FILTER_H/W, 17 WEIGHTS)."""

from . import elnative, group, view

_conv = elnative.conv_2d


def eval(p, arena, model):
    k = p[7] * p[8] * p[3]
    oc = p[6]
    wofs = p[17]
    g = group(oc, k)
    s = view(1, elnative.scratch_size(k, g))
    c = 0
    while c < oc:
        n = oc - c if oc - c < g else g
        w = view(0, n * k)
        model.read_const(wofs + c * k, w)
        _conv(p, arena, w, s, c, n)
        c += n
