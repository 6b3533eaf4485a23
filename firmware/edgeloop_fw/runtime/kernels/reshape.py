"""RESHAPE: nothing to do -- the memory plan gives output and input the same bytes."""

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
# --- end generated ---


def eval(p, arena, model):
    pass
