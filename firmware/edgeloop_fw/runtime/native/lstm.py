"""UNIDIRECTIONAL_SEQUENCE_LSTM (int8) with its gate MACs in C (`elnative.mat_vec`, API 9).

kernels/lstm.py keeps the time loop and TFLM's gate arithmetic; per step two
C calls give the raw int32 sums of every gate row, against the input
(FEATURES bytes in the arena) and against the previous hidden state (UNITS
bytes), through the target's el_dot4_s8 loop. The model file keeps each unit's
input and recurrent rows side by side, so both calls read the weights in place
with a row stride of FEATURES + UNITS: the mapped file itself (ROMFS) or this
level's shared weight buffer, filled once per inference. An LSTM whose weights
pass BUDGET in an unmapped file keeps the portable MACs.
Param layout: ../opspec.py.
"""

from array import array

from . import BUDGET, elnative, view

from ..kernels import lstm as _k

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
FEATURES = const(2)
UNITS = const(3)
WEIGHTS = const(6)
# --- end generated ---

_mv = elnative.mat_vec


def _dots(views, arena, x):
    src = views[5]
    w = src[0]
    at = src[1]
    f = views[6]
    u = views[7]
    sums = views[4]
    _mv(w, at, f + u, 4 * u, arena, x, f, sums, 0)
    _mv(w, at + f, f + u, 4 * u, views[1], 0, u, sums, 4 * u)


def bind(p, arena):
    """kernels/lstm.py's views, then the raw sums (int32, 8 UNITS), [weights, offset]
    (set per inference), FEATURES and UNITS."""
    w, hid, cell, gates = _k.bind(p, arena)
    u = p[UNITS]
    return w, hid, cell, gates, array("i", bytes(32 * u)), [None, 0], p[FEATURES], u


def eval(p, arena, model, views=None):
    if views is None:
        views = bind(p, arena)
    src = views[5]
    mapped = model.mapped
    if mapped is not None:  # the file is in memory: the rows in place
        src[0] = mapped
        src[1] = p[WEIGHTS]
    else:
        u = views[7]
        n = 4 * u * (views[6] + u)
        if n > BUDGET:
            _k.eval(p, arena, model, views)
            return
        src[0] = view(0, n)
        src[1] = 0
        model.read_const(p[WEIGHTS], src[0])  # every gate row, once per inference
    _k.eval(p, arena, model, views, _dots)
