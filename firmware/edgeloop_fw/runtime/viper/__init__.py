"""Second-level kernels: `@micropython.viper` machine code for the heavy ops.

Compiled ahead of time by `mpy-cross -march=<board arch>` (edgeloop deploy
does it for every file under a `viper/` folder and skips them on a board
without a native emitter). The interpreter prefers a module here over the
portable one in `kernels/` and falls back when the import fails (CPython,
the WebAssembly port, CircuitPython, a .mpy for another arch), so a board
runs whatever level it can and gets the same bytes either way.

On an xtensawin board (ESP32-S3) the three kernels hand their MAC loops to
`xtensa.py` (inline Xtensa assembler, deployed to xtensa boards only) and keep
the rest; elsewhere its import fails and their own loops run (docs/xtensa.md).

Why the arithmetic is safe on both 32- and 64-bit words (viper ints are
machine words: 32 bits on armv6m/armv7em/xtensawin, 64 on x64):
- activations and weights are read through `ptr8`, which zero-extends;
  `(v ^ 0x80) - 0x80` turns the byte back into its int8 value;
- accumulators stay inside int32 for any layer TFLM can run (TFLM's own
  accumulator is int32), so the word size never shows in a sum;
- the 32x32->64-bit product of SaturatingRoundingDoublingHighMul is split
  into 16-bit limbs whose partial products are all non-negative and below
  2**31 (the one that can reach 2**32 is only read through masks, which see
  the same low 32 bits on every word size); see `requant` in
  fully_connected.py for the derivation;
- constants of 2**30 or more are built at run time (`h = 0x20000000; h += h`)
  because mpy-cross would make a larger literal a Python object on 32-bit
  targets;
- signed int32 params that x64's `ptr32` load would zero-extend are passed
  in as Python ints instead.
Where TFLM's C is undefined (an int32 accumulator overflow, or a left shift
that overflows int32) the levels are not promised to agree; neither case
occurs for a multiplier from TFLM's QuantizeMultiplier and int8 data.
"""
