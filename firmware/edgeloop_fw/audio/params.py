"""Turn a generated parameter module into typed arrays, once, at start-up.

The parameters come from the preprocessor .tflite (see
edgeloop.audio_params on the host). They are shipped as base64 text because a
string constant costs a board one object, where a tuple of 2,000 ints would
cost a compiler's worth of heap to import.
"""

from array import array

try:
    from binascii import a2b_base64
except ImportError:  # very old MicroPython
    from ubinascii import a2b_base64

SUPPORTED_FORMAT = 1


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
            text = getattr(module, name)
            if isinstance(text, tuple):
                text = "".join(text)
            setattr(self, name, _to_array(typecode, a2b_base64(text.encode())))


def load(module=None):
    """The micro_speech parameters unless another generated module is given."""
    if module is None:
        from . import micro_speech_params as module
    return Params(module)
