"""The field arithmetic of ../field.py as `@micropython.viper` machine code.

Deploy compiles this folder with `mpy-cross -march=<board arch>` and leaves
it off a board without a native emitter (the WebAssembly virtual board,
CircuitPython); ed25519.py then imports the plain level instead. Every value
is a non-negative int below 2**30 (see ../field.py), so 32- and 64-bit
machine words give the same limbs, and the same limbs as the plain level.
"""
