"""UNIDIRECTIONAL_SEQUENCE_LSTM (int8) with its gate MACs in viper.

kernels/lstm.py keeps the time loop and TFLM's gate arithmetic (each gate
half requantized to int16, the int16 sigmoid/tanh, the three Muls); what it
spends most on in Python is the 4 * UNITS * (FEATURES + UNITS) MACs per step,
and those are one viper call per step here, writing raw int32 sums (no bias:
the kernel adds its bias with the zero point folded in, as before).

The MACs use every weight every step, so the weights are read once per
inference from the model file into a buffer made at load, instead of a row
at a time per step as the portable kernel does. An LSTM whose weights pass
CAP bytes keeps the portable MACs rather than hold that much heap.
Param layout: ../opspec.py.
"""

import micropython
from array import array
from micropython import const

from ..kernels import lstm as _k

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
FEATURES = const(2)
UNITS = const(3)
WEIGHTS = const(6)
# --- end generated ---

CAP = const(16384)  # bytes of weights held in RAM (the native level's BUDGET)


@micropython.viper
def _sums(acc: int, k: int, w: ptr8, wb: ptr8, a: ptr8, x: int, h: ptr8, out: ptr32, feats: int, units: int):
    # acc, k, w first: the three locals viper keeps in registers on every arch (see
    # fully_connected.py). ptr8 zero-extends; (b ^ 0x80) - 0x80 is the int8 value.
    rows = units * 4
    row = feats + units
    v = ptr8(uint(a) + x)
    r = 0
    while r < rows:
        w = ptr8(uint(wb) + r * row)
        acc = 0
        k = 0
        while k < feats:
            acc += ((w[k] ^ 0x80) - 0x80) * ((v[k] ^ 0x80) - 0x80)
            k += 1
        out[r] = acc  # a 32-bit store: array('i') reads it back signed on any word size
        w = ptr8(uint(wb) + r * row + feats)
        acc = 0
        k = 0
        while k < units:
            acc += ((w[k] ^ 0x80) - 0x80) * ((h[k] ^ 0x80) - 0x80)
            k += 1
        out[rows + r] = acc
        r += 1


def _dots(views, arena, x):
    _sums(0, 0, views[5], views[5], arena, x, views[1], views[4], views[6], views[7])


def bind(p, arena):
    """kernels/lstm.py's views, then the raw sums (int32, 8 UNITS), the weights buffer,
    FEATURES and UNITS; only the portable views when the weights pass CAP."""
    w, hid, cell, gates = _k.bind(p, arena)
    f = p[FEATURES]
    u = p[UNITS]
    n = 4 * u * (f + u)
    if n > CAP:
        return w, hid, cell, gates
    return w, hid, cell, gates, array("i", bytes(32 * u)), bytearray(n), f, u


def eval(p, arena, model, views=None):
    if views is None:
        views = bind(p, arena)
    if len(views) == 4:
        _k.eval(p, arena, model, views)
        return
    model.read_const(p[WEIGHTS], views[5])  # every gate row, once per inference
    _k.eval(p, arena, model, views, _dots)
