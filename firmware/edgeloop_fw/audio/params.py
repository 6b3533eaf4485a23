"""Load a generated parameter module and its table file, once, at start-up.

The parameters come from the preprocessor .tflite (see edgeloop.audio_params
on the host). Scalars are module constants; the tables live in a binary file
beside the module and are read straight into arrays made to their final size,
so each table costs the board's heap exactly its own bytes. (As bytes
constants in the module they would be copied onto the heap at import and stay
there, referenced by the module, next to the arrays made from them.)
"""

import sys
from array import array

SUPPORTED_FORMAT = 3
_SIZE = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4}  # MicroPython's array has no itemsize


class Params:
    """Scalars and tables of one front end as attributes (names as in the module)."""


def _table_path(module):
    path = getattr(module, "__file__", None)
    if not path:
        raise ValueError("the audio parameter module has no __file__, so its table file "
                         "%s cannot be found; deploy it as a file, not frozen" % module.TABLE_FILE)
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut + 1] + module.TABLE_FILE


def load(module=None):
    """The micro_speech parameters unless another generated module is given."""
    if module is None:
        from . import micro_speech_params as module
    version = getattr(module, "FORMAT_VERSION", None)
    if version != SUPPORTED_FORMAT:
        raise ValueError("audio parameter format %r; this firmware reads %d - "
                         "regenerate with edgeloop.audio_params" % (version, SUPPORTED_FORMAT))
    p = Params()
    for name in dir(module):
        if name.isupper() and name != "TABLES":
            setattr(p, name, getattr(module, name))
    swap = getattr(sys, "byteorder", "little") == "big"
    with open(_table_path(module), "rb") as f:
        for name, typecode, count in module.TABLES:
            a = array(typecode, range(count))  # final size at once; the file overwrites it
            if f.readinto(a) != count * _SIZE[typecode]:
                raise ValueError("%s is shorter than its module says; regenerate both with "
                                 "edgeloop.audio_params" % module.TABLE_FILE)
            if swap:
                a.byteswap()
            setattr(p, name, a)
    return p
