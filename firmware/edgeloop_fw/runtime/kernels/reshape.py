"""RESHAPE: nothing to do -- the memory plan gives output and input the same bytes."""

from .. import checks

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
# --- end generated ---


def check(p, model):
    """No params: input and output are the same bytes."""
    checks.length(p, 0)


def eval(p, arena, model):
    pass
