"""Randomized one-op models of edgeloop's element-wise ops, and their inputs, for TFLM comparisons.

Each case draws (from a fixed seed) a 1- to 4-D output shape, input shapes
that broadcast to it (a dimension of 1, or fewer dimensions), scales across
three decades and zero points across int8, sometimes a constant operand and a
fused activation; tests/tools/op_models.py writes the .tflite. The same
cases run under CPython (tests/firmware/cpython/test_runtime_elementwise.py)
and on the virtual board (tests/firmware/board/test_elementwise_board.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.tools import op_models as M
from tests.tools.op_models import Op, T

# op name -> (BuiltinOptions member or None, whether it has a fused activation)
BINARY = {"SUB": ("SubOptions", True), "MUL": ("MulOptions", True),
          "MAXIMUM": ("MaximumMinimumOptions", False), "MINIMUM": ("MaximumMinimumOptions", False),
          "PRELU": (None, False)}


# The ops these cases cover, in the order they were added (the board test runs each).
OPS = ("SUB", "MUL", "MAXIMUM", "MINIMUM", "LEAKY_RELU", "HARD_SWISH", "PRELU", "DEQUANTIZE", "QUANTIZE")


# one-input ops: op name -> (BuiltinOptions member or None, random option fields)
UNARY = {"LEAKY_RELU": ("LeakyReluOptions", lambda rng: {"alpha": float(np.float32(rng.choice(
             [rng.uniform(0, 1), rng.uniform(1, 3), 0.0, 0.2, 0.3])))}),
         "HARD_SWISH": (None, lambda rng: {}),
         "DEQUANTIZE": (None, lambda rng: {}),
         "QUANTIZE": (None, lambda rng: {})}  # int8 -> int8: a requantization (kernels/lut8.py)
SHAPES_256 = [(1, 256), (256,), (4, 64), (1, 16, 16), (2, 2, 8, 8), (1, 4, 4, 16)]


@dataclass
class Case:
    name: str
    tflite: bytes
    feeds: list  # per run: one int8 array per model input


def _scale(rng) -> float:
    return float(np.float32(10 ** rng.uniform(-3, 0)))


def _zp(rng) -> int:
    return int(rng.integers(-128, 128))


def _shapes(rng, broadcast: bool):
    rank = int(rng.integers(1, 5))
    out = tuple(int(d) for d in rng.integers(1, 6, size=rank))
    if not broadcast:
        return out, out, out
    ins = []
    for _ in range(2):
        s = tuple(1 if rng.random() < 0.4 else d for d in out)
        drop = int(rng.integers(0, rank))  # leading dimensions an input may leave out
        ins.append(s[drop:] if rng.random() < 0.5 else s)
    # the output is the broadcast of the inputs: a dimension both inputs dropped to 1 is 1
    a4 = (1,) * (4 - len(ins[0])) + ins[0]
    b4 = (1,) * (4 - len(ins[1])) + ins[1]
    o4 = tuple(max(x, y) for x, y in zip(a4, b4))
    out = o4[4 - rank:] if all(d == 1 for d in o4[:4 - rank]) else o4
    return ins[0], ins[1], out


def binary(op: str, seed: int, *, runs: int = 3) -> Case:
    """A random model of the two-input op `op` (BINARY), named for messages."""
    s = M.schema()
    rng = np.random.default_rng([seed, list(BINARY).index(op)])
    broadcast = bool(rng.random() < 0.6)
    sa, sb, sy = _shapes(rng, broadcast)
    qa = dict(scale=_scale(rng), zero_point=_zp(rng))
    qb = dict(scale=_scale(rng), zero_point=_zp(rng))
    qy = dict(scale=_scale(rng), zero_point=_zp(rng))
    if op in ("MAXIMUM", "MINIMUM") and rng.random() < 0.5:
        qb = qy = qa  # what converters emit; TFLM compares raw codes either way
    const = None
    if op == "PRELU":
        const = 1 if rng.random() < 0.7 else None  # alpha (the second input): a weight, sometimes an activation
    elif rng.random() < 0.3:
        const = int(rng.random() < 0.5)
    shapes = [sa, sb]
    tensors = []
    for i, (shape, q) in enumerate(zip(shapes, (qa, qb))):
        data = M.random_int8(rng, shape) if const == i else None
        tensors.append(T(f"in{i}", shape, data=data, **q))
    tensors.append(T("out", sy, **qy))
    opts_name, fused = BINARY[op]
    act = int(rng.choice([0, 1, 3])) if fused else 0  # NONE, RELU, RELU6
    options = M.options(opts_name, **({"fusedActivationFunction": act} if fused else {})) if opts_name else None
    code = getattr(s.BuiltinOperator, op)
    inputs = [f"in{i}" for i in range(2) if i != const]
    tflite = M.build(tensors, [Op(code, ["in0", "in1"], ["out"], options, opts_name)], inputs, ["out"])
    feeds = [[M.random_int8(rng, shapes[i]) for i in range(2) if i != const] for _ in range(runs)]
    name = (f"{op}#{seed} {list(sa)}{'(const)' if const == 0 else ''} {list(sb)}{'(const)' if const == 1 else ''}"
            f" -> {list(sy)} act={act}")
    return Case(name, tflite, feeds)


def unary(op: str, seed: int, *, runs: int = 3) -> Case:
    """A random model of the one-input op `op` (UNARY): 256 elements, so the first run holds every
    int8 code once (the whole table is compared), the others random codes."""
    s = M.schema()
    rng = np.random.default_rng([seed, 100 + list(UNARY).index(op)])
    shape = SHAPES_256[int(rng.integers(len(SHAPES_256)))]
    qx = dict(scale=_scale(rng), zero_point=_zp(rng))
    qy = dict(scale=_scale(rng), zero_point=_zp(rng))
    if op == "HARD_SWISH":  # TFLM refuses an output scale below input scale / 128
        qy["scale"] = max(qy["scale"], float(np.float32(qx["scale"] / 100)))
    opts_name, draw = UNARY[op]
    fields = draw(rng)
    options = M.options(opts_name, **fields) if opts_name else None
    y = T("y", shape, dtype="float32") if op == "DEQUANTIZE" else T("y", shape, **qy)
    tensors = [T("x", shape, **qx), y]
    tflite = M.build(tensors, [Op(getattr(s.BuiltinOperator, op), ["x"], ["y"], options, opts_name)], ["x"], ["y"])
    every = rng.permutation(np.arange(-128, 128)).astype(np.int8).reshape(shape)
    feeds = [[every]] + [[M.random_int8(rng, shape)] for _ in range(runs - 1)]
    return Case(f"{op}#{seed} {list(shape)} in {qx} out {qy} {fields}", tflite, feeds)


def case(op: str, seed: int, *, runs: int = 3) -> Case:
    """A random model of `op`, whichever kind it is."""
    return (unary if op in UNARY else binary)(op, seed, runs=runs)


def tflm(case: Case) -> list[bytes]:
    """TFLM's output bytes per run (inputs set before every invoke: TFLM overwrites them)."""
    import pytest
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    interp = runtime.Interpreter.from_bytes(case.tflite)
    out = []
    for feed in case.feeds:
        for i, x in enumerate(feed):
            interp.set_input(x, i)
        interp.invoke()
        out.append(interp.get_output(0).tobytes())
    return out


def edgeloop(case: Case, blob: bytes, levels=("kernels",)) -> list[bytes]:
    """edgeloop's output bytes per run, the firmware's interpreter under CPython."""
    import io

    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    interp = Interpreter(Model(io.BytesIO(blob)), levels)
    out = []
    for feed in case.feeds:
        for i, x in enumerate(feed):
            interp.set_input(np.ascontiguousarray(x).tobytes(), i)
        interp.invoke()
        out.append(interp.get_output(0))
    return out
