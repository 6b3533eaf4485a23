"""BATCH_MATMUL on the C kernel (el_bmm.c): both operands are in the arena, so no weights
to stream; the C transposes the right operand into this level's shared scratch buffer.
Params: ../opspec.py."""

from . import elnative, view

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
# --- end generated ---

_f = elnative.batch_matmul


def eval(p, arena, model):
    _f(p, arena, view(1, elnative.bmm_scratch_size(p)))
