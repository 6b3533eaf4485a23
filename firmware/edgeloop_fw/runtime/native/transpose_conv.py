"""TRANSPOSE_CONV on the C kernel (el_tconv.c), weights streamed in output-channel groups
as CONV_2D's are. Params: ../opspec.py."""

from . import elnative, group, view

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
IN_C = const(3)
OUT_C = const(6)
FILTER_H = const(7)
FILTER_W = const(8)
WEIGHTS = const(15)
# --- end generated ---

_tconv = elnative.transpose_conv


def eval(p, arena, model):
    k = p[FILTER_H] * p[FILTER_W] * p[IN_C]
    oc = p[OUT_C]
    wofs = p[WEIGHTS]
    g = group(oc, k)
    s = view(1, elnative.tconv_scratch_size(p, g))
    mapped = model.mapped  # the file in memory: groups read in place
    c = 0
    while c < oc:
        n = oc - c if oc - c < g else g
        if mapped is not None:
            _tconv(p, arena, mapped, s, c, n, wofs + c * k)
        else:
            w = view(0, n * k)
            model.read_const(wofs + c * k, w)
            _tconv(p, arena, w, s, c, n)
        c += n
