"""Check a model file on the host exactly as the board will, before anything is sent.

The board's own loader (firmware/edgeloop_fw/runtime/loader.py) does the
checking, so a file the host accepts is one the board accepts and a file the
board would refuse is refused here first, with the same one-line reason: a
deploy or a predict never replaces a good model with a bad one.
"""

from __future__ import annotations

import io
import struct

from edgeloop_fw.runtime.loader import Model, ModelFileError

from ..errors import ModelError


# What the board's loader and binding can raise on a damaged file: its own ModelFileError for
# what it checks, and these for what gets past a recomputed hash (deploy and predict share it).
DAMAGED = (ModelFileError, struct.error, ValueError, IndexError, KeyError, TypeError, ZeroDivisionError, EOFError)


def open_model(data: bytes, name: str = "model") -> Model:
    """The board's loader over `data`; a refusal is a ModelError naming `name`.

    The loader checks the header, the hash and the tables; a damaged file that gets past
    those (a field out of range behind a recomputed hash) can still make it fail in other
    ways on the host, so those are one line here too."""
    try:
        return Model(io.BytesIO(data))
    except ModelFileError as e:
        raise ModelError(f"{name}: {e}") from None
    except DAMAGED as e:
        raise ModelError(f"{name}: the model file is damaged ({type(e).__name__}: {e}); "
                         "convert the model again") from None
