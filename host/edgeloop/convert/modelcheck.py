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


def open_model(data: bytes, name: str = "model", heap: int | None = None) -> Model:
    """The board's loader over `data` after the full check; a refusal is a ModelError naming `name`.

    `heap` is the board's heap in bytes when a board is known (deploy), None otherwise."""
    f = io.BytesIO(data)
    try:
        check(f, heap)
        f.seek(0)
        return Model(f)
    except ModelFileError as e:
        raise ModelError(f"{name}: {e}") from None
