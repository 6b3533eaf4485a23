"""One-op (or few-op) .tflite files written directly with the TFLite schema, for op tests.

Keras decides scales and zero points itself; these tests need to choose them
(odd zero points, scales that make rescale factors above and below one,
broadcast shapes Keras would not emit). The schema's object API ships with
tflite-micro (`schema_py_generated`), so no TensorFlow is needed: the file is
what TFLM reads, and TFLM is the reference the tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

DTYPES = {"float32": 0, "int32": 2, "int8": 9, "int16": 7, "uint8": 3, "int64": 4}


def schema():
    return pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated",
                               reason="tflite-micro (its schema and the TFLM reference) is not installed")


@dataclass
class T:
    name: str
    shape: tuple
    dtype: str = "int8"
    scale: float | list | None = None
    zero_point: int | list = 0
    data: np.ndarray | None = None  # a constant
    quantized_dimension: int = 0


@dataclass
class Op:
    opcode: int  # BuiltinOperator
    inputs: list  # tensor names (None for an absent optional input)
    outputs: list
    options: object = None  # a schema *OptionsT
    options_type: str | None = None  # BuiltinOptions member name, e.g. "SubOptions"
    extra: dict = field(default_factory=dict)


def build(tensors: list[T], ops: list[Op], inputs: list[str], outputs: list[str]) -> bytes:
    s = schema()
    import flatbuffers

    model = s.ModelT()
    model.version = 3
    model.buffers = [s.BufferT()]  # buffer 0: empty, by convention
    sg = s.SubGraphT()
    index = {t.name: i for i, t in enumerate(tensors)}
    sg.tensors = []
    for t in tensors:
        tt = s.TensorT()
        tt.name = t.name
        tt.shape = list(t.shape)
        tt.type = DTYPES[t.dtype]
        tt.buffer = 0
        if t.data is not None:
            b = s.BufferT()
            b.data = list(np.ascontiguousarray(t.data, dtype=t.dtype).tobytes())
            model.buffers.append(b)
            tt.buffer = len(model.buffers) - 1
        if t.scale is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in np.atleast_1d(t.scale)]
            q.zeroPoint = [int(v) for v in np.atleast_1d(t.zero_point)]
            q.quantizedDimension = t.quantized_dimension
            tt.quantization = q
        sg.tensors.append(tt)
    codes = []
    sg.operators = []
    for op in ops:
        if op.opcode not in codes:
            codes.append(op.opcode)
        o = s.OperatorT()
        o.opcodeIndex = codes.index(op.opcode)
        o.inputs = [index[n] if n is not None else -1 for n in op.inputs]
        o.outputs = [index[n] for n in op.outputs]
        if op.options_type:
            o.builtinOptionsType = getattr(s.BuiltinOptions, op.options_type)
            o.builtinOptions = op.options
        sg.operators.append(o)
    sg.inputs = [index[n] for n in inputs]
    sg.outputs = [index[n] for n in outputs]
    model.subgraphs = [sg]
    model.operatorCodes = []
    for c in codes:
        oc = s.OperatorCodeT()
        oc.builtinCode = c
        oc.deprecatedBuiltinCode = min(c, 127)
        oc.version = 1
        model.operatorCodes.append(oc)
    model.description = "edgeloop test model"
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def options(name: str, **fields):
    """A schema *OptionsT with the given fields (schema names: fusedActivationFunction, alpha, ...)."""
    o = getattr(schema(), name + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def random_int8(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)


def tflm_outputs(tflite: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    interp = runtime.Interpreter.from_bytes(tflite)
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    return [interp.get_output(0).copy()]
