"""The 256-entry table ops (RELU, RELU6, LOGISTIC, TANH, QUANTIZE) on the C kernel:
the table is read from the model file into the op's scratch as the portable
kernel does (its `bind` makes the view once), then the C does the lookups."""

from . import elnative
from ..kernels.lut8 import bind

_f = elnative.lut8


def eval(p, arena, model, views=None):
    table = (views or bind(p, arena))[0]
    model.read_const(p[3], table)
    _f(p, arena)
