"""The report's figures, taken from a conversion result: no rendering here, so both renderers read the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..convert.int8 import Converted
from ..reference import tflm
from ..reference.arena import smallest_arena


@dataclass
class LayerRow:
    index: int
    op: str
    layer: str  # full name of the op's first output tensor
    shape: tuple[int, ...]
    macs: int
    const_bytes: int


@dataclass
class Accuracy:
    samples: int
    classes: list[str]
    counts: list[int]
    # runner ("float (TensorFlow)", "int8 TFLite (TFLM)", "edgeloop") -> per-class accuracy, overall
    per_class: dict[str, list[float]] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    identical_to_tflm: int | None = None  # samples whose edgeloop output bytes equal TFLM's


@dataclass
class Report:
    source: str
    model_bytes: int
    tflite_bytes: int
    arena_size: int
    tflm_arena: int | None
    layers: list[LayerRow]
    accuracy: Accuracy | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def const_bytes(self) -> int:
        return sum(r.const_bytes for r in self.layers)


def layer_rows(converted: Converted) -> list[LayerRow]:
    model = converted.tflite
    rows = []
    for op, summary in zip(model.operators, converted.ops):
        consts = {i for i in op.inputs if i >= 0 and model.tensors[i].is_constant}
        out = model.tensors[op.outputs[0]].shape if op.outputs else ()
        # Constants of MAC-free ops (a RESHAPE's target shape) are not weights.
        weights = sum(model.tensors[i].nbytes for i in consts) if summary.macs else 0
        rows.append(LayerRow(op.index, summary.name, summary.layer, tuple(out), summary.macs, weights))
    return rows


def build_report(converted: Converted, tflite: bytes, source: str, *, tflm_arena: bool = True) -> Report:
    notes = []
    arena = smallest_arena(tflite) if tflm_arena else None
    if tflm_arena and arena is None:
        notes.append(f"TFLM's arena not measured: tflite-micro is not installed ({tflm.HINT})")
    return Report(source, len(converted.data), len(tflite), converted.arena_size, arena,
                  layer_rows(converted), notes=notes)
