"""Third kernel level: C kernels from a MicroPython native module (`elnative.mpy`).

`edgeloop deploy` (or `edgeloop convert --backend native`) installs
elnative.mpy next to this file, built for the board's arch and .mpy ABI.
Importing this package fails (ImportError when the module is absent or on
CPython/CircuitPython, ValueError when the .mpy is for another arch or ABI)
and the interpreter then uses the viper or portable level instead.

The C needs a whole group of output channels' weights in RAM while the
runtime keeps weights in the model file, so each op streams its weights in
groups into one buffer shared by all ops (they run one at a time): at most
BUDGET bytes, but always at least one channel's filter. The buffers grow on
the first inference only; views are cached by size so later inferences
allocate nothing per group.

When the model file is addressable (`Model.mapped`: a ROMFS file, whose bytes
sit in memory-mapped flash), nothing is copied: the C reads each group's
weights in place, given the whole file and an offset, and FULLY_CONNECTED
(which uses each weight byte once, so the copy cost as much as its MACs)
runs in one call.
"""

from . import elnative

API = 9  # 2: conv scratch sized by elnative.scratch_size (per arch); 3: depthwise by dw_scratch_size;
#         4: pool_2d, add, mean, lut8, concatenation in C; 5: softmax in C;
#         6: the heavy ops take an offset into w (weights read in place from a mapped model file);
#         7: scratch_size(p, n) from conv's params (few input channels use a geometry-sized row strip)
#         8: transpose_conv, batch_matmul, tconv/bmm_scratch_size
#         9: mat_vec (raw int32 sums of weight rows: the LSTM)
if elnative.API != API:
    raise ImportError("elnative.mpy speaks API %d, this glue %d: deploy again" % (elnative.API, API))

BUDGET = 16384  # bytes of weights per group

_bufs = [bytearray(0), bytearray(0)]  # weights, scratch
_views = [{}, {}]


def view(which, n):
    """A writable view of exactly n bytes of buffer `which` (0 weights, 1 scratch)."""
    cache = _views[which]
    v = cache.get(n)
    if v is None:
        if n > len(_bufs[which]):
            _bufs[which] = bytearray((n + 15) & ~15)
            cache.clear()
        v = memoryview(_bufs[which])[:n]
        cache[n] = v
    return v


def group(count, each):
    """How many channels of `each` weight bytes go in one group (a multiple of 4 when >= 4:
    the C's inner loop takes four rows at a time)."""
    g = BUDGET // each if each else count
    if g >= 4:
        g &= ~3
    if g < 1:
        g = 1
    return g if g < count else count
