"""Check a model file on the host exactly as the board will, before anything is sent.

The board's own loader (firmware/edgeloop_fw/runtime/loader.py) does the
checking, so a file the host accepts is one the board accepts and a file the
board would refuse is refused here first, with the same one-line reason: a
deploy or a predict never replaces a good model with a bad one.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from edgeloop_fw.runtime import format as F
from edgeloop_fw.runtime.loader import Model, ModelFileError

from ..errors import ModelError


@dataclass(frozen=True)
class TensorSummary:
    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ModelSummary:
    """What a checked model file holds: enough to describe it or match it to a board."""

    file_size: int
    arena_size: int
    inputs: tuple[TensorSummary, ...]
    outputs: tuple[TensorSummary, ...]
    ops: tuple[str, ...]  # kernel names, in run order


def open_model(data: bytes, name: str = "model", heap: int | None = None) -> Model:
    """The board's loader over `data`; a refusal is a ModelError naming `name`.

    The loader checks the header, the hash and the tables; a damaged file that gets past
    those (a field out of range behind a recomputed hash) can still make it fail in other
    ways on the host, so those are one line here too. `heap` bounds the arena."""
    try:
        m = Model(io.BytesIO(data))
    except ModelFileError as e:
        raise ModelError(f"{name}: {e}") from None
    except (struct.error, ValueError, IndexError, KeyError, TypeError, ZeroDivisionError, EOFError) as e:
        raise ModelError(f"{name}: the model file is damaged ({type(e).__name__}: {e}); "
                         "convert the model again") from None
    if heap is not None and m.arena_size > heap:
        raise ModelError(f"{name}: its arena of {m.arena_size} bytes is more than the {heap}-byte heap; "
                         "convert a smaller model")
    return m


def validate(data: bytes, name: str = "model", heap: int | None = None) -> ModelSummary:
    """Every check the board makes at load (header, tables, each op's params against the
    arena and the constants; `heap` bounds the arena), or ModelError with one line."""
    m = open_model(data, name, heap)

    def tensors(ts) -> tuple[TensorSummary, ...]:
        return tuple(TensorSummary(t.name, F.DTYPE_NAMES[t.dtype], tuple(t.shape), t.scale, t.zero_point)
                     for t in ts)

    return ModelSummary(len(data), m.arena_size, tensors(m.inputs), tensors(m.outputs),
                        tuple(op[1] for op in m.ops))
