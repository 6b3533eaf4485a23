"""The 256-entry table ops (RELU, RELU6, LOGISTIC, TANH, QUANTIZE) on the C kernel:
the table is read from the model file into the op's scratch as the portable
kernel does (its `bind` makes the view once), then the C does the lookups."""

from . import elnative
from ..kernels.lut8 import bind

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
TABLE = const(3)
# --- end generated ---

_f = elnative.lut8


def eval(p, arena, model, views=None):
    table = (views or bind(p, arena))[0]
    model.read_const(p[TABLE], table)
    _f(p, arena)
