"""Check a model file on the host exactly as the board will, before anything is sent.

The board's own code does the checking: `validate.check` (every header, table
and op-parameter field against the file, the arena and the board's heap),
then the loader. A file the host accepts is one the board accepts, and a file
the board would refuse is refused here first with the same one-line reason,
so a deploy or a predict never replaces a good model with a bad one.
"""

from __future__ import annotations

import io

from edgeloop_fw.runtime.loader import Model, ModelFileError
from edgeloop_fw.runtime.validate import check

from ..errors import ModelError


def checked_model(data: bytes) -> Model:
    """The board's full check, then its loader, over `data`; a refusal is its ModelFileError."""
    f = io.BytesIO(data)
    check(f)
    f.seek(0)
    return Model(f)


def open_model(data: bytes, name: str = "model") -> Model:
    """`checked_model` for predict: a refusal is a ModelError naming `name`."""
    try:
        return checked_model(data)
    except ModelFileError as e:
        raise ModelError(f"{name}: {e}") from None
