"""What an op's host-side `prepare` returns, and what it is given.

A prepare function turns one TFLite operator into a flat list of int32
params for its board kernel. Values only known after layout (where a tensor
lands in the arena, where a constant lands in the file, where the op's scratch
lands) are written as placeholders -- `Arena(t)`, `Const(bytes)`,
`Scratch()` -- and the writer replaces them with offsets. docs/runtime-kernels.md
is the contract; this module is its host half.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConversionError
from .tflite import Operator, Tensor, TFLiteModel


@dataclass(frozen=True)
class Arena:
    """Byte offset of an activation tensor in the board's arena."""
    tensor: int


@dataclass(frozen=True, eq=False)
class Const:
    """Absolute file offset of constant data the kernel reads in place."""
    data: bytes


@dataclass(frozen=True)
class Scratch:
    """Byte offset in the arena of this op's scratch buffer (OpPlan.scratch bytes)."""


Param = int | Arena | Const | Scratch


@dataclass
class OpPlan:
    params: list[Param]
    reads: list[int]  # activation tensors the kernel reads (tflite indices)
    writes: list[int]  # activation tensors it writes
    scratch: int = 0  # bytes of arena scratch, live during this op only
    alias: tuple[int, int] | None = None  # (output, input): same bytes, no copy
    macs: int = 0  # multiply-accumulates per inference, for reports and benchmarks
    acc_bound: int = 0  # bound of |accumulator| over all int8 inputs (ops/common.acc_bound)


@dataclass
class Context:
    """What prepare may use beyond the op: the model, settings, and error helpers."""

    model: TFLiteModel
    op: Operator
    chunk_bytes: int = 512  # largest weight read the kernels do at once

    def tensor(self, position: int, *, outputs: bool = False) -> Tensor | None:
        ids = self.op.outputs if outputs else self.op.inputs
        if position >= len(ids) or ids[position] < 0:
            return None
        return self.model.tensors[ids[position]]

    def refuse(self, why: str) -> ConversionError:
        """A ConversionError naming the op and its layer; `raise ctx.refuse(...)`."""
        return ConversionError(f"{self.op.name} (layer '{self.model.layer(self.op)}'): {why}")

    def need_int8(self, t: Tensor, role: str) -> None:
        if t.dtype != "int8":
            raise self.refuse(f"{role} '{t.name}' is {t.dtype}; edgeloop runs int8 activations only "
                              "(convert with int8 input/output and full-integer quantization)")

    def need_constant(self, t: Tensor | None, role: str) -> np.ndarray:
        if t is None or t.data is None:
            raise self.refuse(f"{role} must be a constant in the model")
        return t.data

    def zero_point(self, t: Tensor) -> int:
        return int(t.zero_point[0]) if t.zero_point.size else 0

    def scale(self, t: Tensor) -> float:
        if not t.scale.size:
            raise self.refuse(f"tensor '{t.name}' has no quantization scale")
        return float(t.scale[0])
