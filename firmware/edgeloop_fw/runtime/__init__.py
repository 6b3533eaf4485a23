"""edgeloop's int8 runtime: model loader, interpreter and portable kernels.

The same files run under MicroPython, CircuitPython and CPython (no numpy,
only array/memoryview/struct), so a model can be run on the host and on the
board by identical code. See docs/model-format.md and docs/runtime-kernels.md.
"""

# The one fallback for `const` in the runtime (it may be deployed without the rest of
# edgeloop_fw, so not port.py's): MicroPython's compiler folds `X = const(n)` by the
# name alone, whichever module the name comes from.
try:
    from micropython import const
except ImportError:  # CPython, CircuitPython builds without it
    def const(x):
        return x
