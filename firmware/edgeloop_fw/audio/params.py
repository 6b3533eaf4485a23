"""Turn a generated parameter module into typed arrays, once, at start-up.

The parameters come from the preprocessor .tflite (see
edgeloop.audio_params on the host). They are shipped as bytes constants
because one bytes object costs a board one allocation, where a tuple of 2,000
ints would cost a compiler's worth of heap to import; and no decoder is needed
(the WebAssembly MicroPython's binascii is a slow pure-Python fallback).
"""

from array import array

SUPPORTED_FORMAT = 2


def _to_array(typecode, raw):
    a = array(typecode)
    if hasattr(a, "frombytes"):  # CPython
        a.frombytes(raw)
        return a
    return array(typecode, raw)  # MicroPython/CircuitPython: bytes init is raw


class Params:
    """Scalars as attributes (names as in the module); blobs as arrays."""

    def __init__(self, module):
        version = getattr(module, "FORMAT_VERSION", None)
        if version != SUPPORTED_FORMAT:
            raise ValueError("audio parameter format %r; this firmware reads %d - "
                             "regenerate with edgeloop.audio_params" % (version, SUPPORTED_FORMAT))
        for name in dir(module):
            if name.isupper() and name != "BLOB_TYPES":
                setattr(self, name, getattr(module, name))
        for name, typecode in module.BLOB_TYPES.items():
            setattr(self, name, _to_array(typecode, getattr(module, name)))


def load(module=None):
    """The micro_speech parameters unless another generated module is given."""
    if module is None:
        from . import micro_speech_params as module
    return Params(module)
