"""MAX_POOL_2D / AVERAGE_POOL_2D on the C kernel (el_misc.c): no weights, the C reads the op's params
directly (same indices as kernels/pool_2d.py)."""

from . import elnative

_f = elnative.pool_2d


def eval(p, arena, model):
    _f(p, arena)
