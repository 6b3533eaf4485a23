"""FULLY_CONNECTED on the C kernel, weights streamed in row groups.
Params: ../opspec.py."""

from . import elnative, group, view

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
DEPTH = const(1)
UNITS = const(2)
WEIGHTS = const(5)
# --- end generated ---

_fc = elnative.fully_connected


def eval(p, arena, model):
    mapped = model.mapped
    if mapped is not None:  # the file is in memory: every row in place, one call
        _fc(p, arena, mapped)  # the C takes UNITS and WEIGHTS from p
        return
    depth = p[DEPTH]
    units = p[UNITS]
    wofs = p[WEIGHTS]
    g = group(units, depth)
    u = 0
    while u < units:
        n = units - u if units - u < g else g
        w = view(0, n * depth)
        model.read_const(wofs + u * depth, w)
        _fc(p, arena, w, u, n)
        u += n
