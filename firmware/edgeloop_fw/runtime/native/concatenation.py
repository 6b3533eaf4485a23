"""CONCATENATION on the C kernel (el_misc.c): no weights, the C reads the op's params
directly (same indices as kernels/concatenation.py)."""

from . import elnative

_f = elnative.concatenation


def eval(p, arena, model):
    _f(p, arena)
