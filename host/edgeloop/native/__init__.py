"""Native level: edgeloop's int8 kernels in C, built per board arch.

`kernels/` holds the C (shipped with the host package: the host compiles it
for a board at convert/deploy time); `build` runs the compilers, `hostlib`
loads a host build through ctypes, `mpy` links an object into a MicroPython
native module.
"""
