"""FULLY_CONNECTED on the C kernel, weights streamed in row groups.
Params: edgeloop/convert/ops/fully_connected.py (1 DEPTH, 2 UNITS, 5 WEIGHTS)."""

from . import elnative, group, view

_fc = elnative.fully_connected


def eval(p, arena, model):
    depth = p[1]
    units = p[2]
    wofs = p[5]
    g = group(units, depth)
    u = 0
    while u < units:
        n = units - u if units - u < g else g
        w = view(0, n * depth)
        model.read_const(wofs + u * depth, w)
        _fc(p, arena, w, u, n)
        u += n
