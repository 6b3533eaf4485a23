"""Already-int8 .tflite -> the on-board model file.

Reads the FlatBuffer, lets each op's host `prepare` (edgeloop.convert.ops.*)
do the float work TFLM does in Prepare, plans the arena, and writes the file.
An op without a kernel, or a float model, is refused here -- on the laptop,
with the op and layer named -- never discovered on the board.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from edgeloop_fw.runtime.opcodes import KERNELS, KERNELS_16X8, kernel_name

from ..errors import ConversionError, ModelError
from .graph import Context, OpPlan
from .plan import plan_memory
from .tflite import TFLiteModel, read_tflite
from .writer import write_model

# Why an op edgeloop runs in int8 has no 16x8 kernel, where the answer is not "TFLM has none".
NOT_16X8: dict[int, str] = {}


@dataclass
class OpSummary:
    name: str  # TFLite op name
    layer: str  # its first output tensor
    macs: int
    scratch: int
    acc_bound: int = 0  # bound of |int32 accumulator| (FC, conv, depthwise, mean)


@dataclass
class Converted:
    data: bytes  # the model file
    arena_size: int
    ops: list[OpSummary]
    tflite: TFLiteModel

    @property
    def macs(self) -> int:
        return sum(o.macs for o in self.ops)

    @property
    def allocating_ops(self) -> list[OpSummary]:
        """Ops whose accumulators can reach 2**30: exact on the board, but each of their
        outputs then allocates on a 32-bit MicroPython (small ints end below 2**30)."""
        return [o for o in self.ops if o.acc_bound >= 1 << 30]

    @property
    def params_bytes(self) -> int:
        """RAM the board spends on the op params (they are loaded; weights are not)."""
        import struct

        from edgeloop_fw.runtime import format as F
        return 4 * struct.unpack_from(F.SUMMARY_FMT, self.data, F.SUMMARY_AT)[2]


def supported_ops() -> list[str]:
    from .tflite import op_name
    return sorted(op_name(c) for c in KERNELS)


def _refuse_float(model: TFLiteModel, source: str) -> list[str]:
    """A float model is refused at once (it needs --calib, not edits); an I/O tensor
    of another dtype is one problem among the model's others. A float32 output that a
    DEQUANTIZE of an int8 (or, in 16x8 mode, int16) tensor makes is an integer model's answer
    in floats: accepted."""
    problems = []
    dequantized = {op.outputs[0] for op in model.operators
                   if op.opcode == 6 and op.outputs and model.tensors[op.inputs[0]].dtype in ("int8", "int16")}
    for i in list(model.inputs) + list(model.outputs):
        t = model.tensors[i]
        if t.dtype == "float32" and i in dequantized and i in model.outputs:
            continue
        if t.dtype in ("float32", "float16", "float64"):
            raise ConversionError(
                f"{source} is a float model ('{t.name}' is {t.dtype}) and no calibration data was given; "
                "edgeloop runs full-integer int8 models: convert the Keras model or SavedModel with "
                "`edgeloop convert MODEL --calib data.npz`, or export an int8 .tflite "
                "(representative dataset, int8 input and output)")
        if t.dtype not in ("int8", "int16"):
            problems.append(f"model input/output '{t.name}' is {t.dtype} (edgeloop's runtime takes int8 "
                            "inputs and outputs, int16 ones in 16x8 mode, or float32 outputs made by DEQUANTIZE)")
    return problems


def is_wide(model: TFLiteModel, op) -> bool:
    """Whether `op` runs in TFLM's 16x8 mode: its first input or output is int16 (the loader's rule,
    runtime/loader.is_wide, over the same tensors)."""
    ends = [op.inputs[0] if op.inputs else -1, op.outputs[0] if op.outputs else -1]
    return any(t >= 0 and model.tensors[t].dtype == "int16" for t in ends)


def prepare_ops(model: TFLiteModel, chunk_bytes: int = 512, source: str = "model",
                problems: list[str] | None = None) -> list[OpPlan]:
    """Every op's plan, or one ConversionError listing every problem of the whole model.

    Each op is checked even after one fails, so a user editing the model
    learns everything to change from one run, not one problem per run.
    An op without a kernel is listed by name with all its layers; an op
    whose kernel refuses says why (the op's own first problem)."""
    if model.subgraph_count != 1:
        raise ConversionError(f"the model has {model.subgraph_count} subgraphs (control flow); "
                              "edgeloop runs single-subgraph models")
    problems = list(problems or [])
    missing: dict[str, list[str]] = {}
    plans = []
    for op in model.operators:
        wide = is_wide(model, op)
        kernel = kernel_name(op.opcode, wide) if op.opcode != 32 else None
        if kernel is None and wide and op.opcode in KERNELS:
            from .tflite import op_name
            problems.append(
                f"op {op.name} (layer '{model.layer(op)}') has int16 activations (16x8 mode), which edgeloop's "
                f"runtime does not run for this op{NOT_16X8.get(op.opcode, '')} "
                f"(16x8 ops: {', '.join(sorted({op_name(c) for c in KERNELS_16X8}))})")
            continue
        if kernel is None:
            missing.setdefault(op.name, []).append(model.layer(op))
            continue
        module = importlib.import_module(f"edgeloop.convert.ops.{kernel}")
        try:
            plans.append(module.prepare(Context(model, op, chunk_bytes)))
        except ConversionError as e:
            problems.append(str(e))
    unsupported = [f"op {name} (layer{'s' if len(layers) > 1 else ''} {', '.join(repr(n) for n in layers)}) "
                   "is not supported" for name, layers in missing.items()]
    problems = unsupported + problems
    if len(problems) == 1 and not unsupported:
        raise ConversionError(problems[0])
    if problems:
        hint = f"; supported ops: {', '.join(supported_ops())} (docs/ops.md)" if unsupported else ""
        raise ConversionError(f"{source} has {len(problems)} problem{'s' if len(problems) > 1 else ''} "
                              f"edgeloop's runtime cannot run: " + "; ".join(
                                  f"({i}) {p}" for i, p in enumerate(problems, 1)) +
                              hint + "; change these layers (or quantize them to int8) and convert again")
    return plans


def convert_tflite_bytes(data: bytes, source: str = "model", *, chunk_bytes: int = 512) -> Converted:
    model = read_tflite(data, source)
    plans = prepare_ops(model, chunk_bytes, source, _refuse_float(model, source))
    alias_of = {}
    for p in plans:
        if p.alias:
            out, inp = p.alias  # nothing writes in place, so sharing is always safe
            alias_of[out] = inp

    def root(t):
        while t in alias_of:
            t = alias_of[t]
        return t

    sizes = {}
    for t in set(list(model.inputs) + list(model.outputs) + [t for p in plans for t in p.reads + p.writes]):
        r = root(t)
        sizes[r] = max(sizes.get(r, 0), model.tensors[t].nbytes)
    # With int16 tensors every buffer is placed at an even offset (an int8 one beside them, from a
    # QUANTIZE int8 <-> int16, would otherwise shift them); int8-only models keep their layout.
    align = 2 if any(t.dtype == "int16" for t in model.tensors) else 1
    buffers, arena = plan_memory(sizes, plans, list(model.inputs), list(model.outputs), alias_of, align)
    blob = write_model(model, model.operators, plans, buffers, arena, root)
    ops = [OpSummary(op.name, model.layer(op), p.macs, p.scratch, p.acc_bound) for op, p in zip(model.operators, plans)]
    return Converted(blob, arena, ops, model)


def convert_tflite(path: str | Path, *, chunk_bytes: int = 512) -> Converted:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}") from None
    return convert_tflite_bytes(data, str(path), chunk_bytes=chunk_bytes)
