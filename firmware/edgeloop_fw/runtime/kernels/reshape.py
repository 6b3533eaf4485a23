"""RESHAPE: nothing to do -- the memory plan gives output and input the same bytes."""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
# --- end generated ---


def eval(p, arena, model):
    pass
