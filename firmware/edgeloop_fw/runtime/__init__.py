"""edgeloop's int8 runtime: model loader, interpreter and portable kernels.

The same files run under MicroPython, CircuitPython and CPython (no numpy,
only array/memoryview/struct), so a model can be run on the host and on the
board by identical code. See docs/model-format.md and docs/runtime-kernels.md.
"""
