"""MAXIMUM and MINIMUM on int16 values (TFLM's 16x8 mode) under edgeloop's runtime on CPython vs
TFLM's reference kernels: identical output bytes on randomized one-op models (shapes of rank 1-4,
broadcasting, a constant operand, scales that differ or not; int16 zero points are 0 as the
converter makes them). The data-movement ops' 16x8 proof is tests/host/convert/test_ops_movement.py.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from edgeloop.convert.int8 import convert_tflite_bytes
from edgeloop_fw.runtime.validate import check

from tests.tools import elementwise_cases as E
from tests.tools import op_models as M
from tests.tools.op_models import Op, T

SEEDS = range(30)


def random_int16(rng, shape) -> np.ndarray:
    return rng.integers(-32768, 32768, size=shape).astype(np.int16)


def max_min_case(op: str, seed: int, runs: int = 3) -> E.Case:
    """A random int16 MAXIMUM / MINIMUM model (E._shapes' broadcasting), sometimes a constant operand."""
    rng = np.random.default_rng([seed, 16, op == "MINIMUM"])
    sa, sb, sy = E._shapes(rng, bool(rng.random() < 0.6))
    qa, qb, qy = ({"scale": float(np.float32(10 ** rng.uniform(-5, -2))), "zero_point": 0} for _ in range(3))
    if rng.random() < 0.5:
        qb = qy = qa
    const = int(rng.random() < 0.5) if rng.random() < 0.3 else None
    shapes = [sa, sb]
    tensors = [T(f"in{i}", s, "int16", data=random_int16(rng, s) if const == i else None, **q)
               for i, (s, q) in enumerate(zip(shapes, (qa, qb)))]
    tensors.append(T("out", sy, "int16", **qy))
    code = getattr(M.schema().BuiltinOperator, op)
    inputs = [f"in{i}" for i in range(2) if i != const]
    tflite = M.build(tensors, [Op(code, ["in0", "in1"], ["out"])], inputs, ["out"])
    feeds = [[random_int16(rng, shapes[i]) for i in range(2) if i != const] for _ in range(runs)]
    return E.Case(f"{op}#{seed} int16 {list(sa)} {list(sb)} -> {list(sy)} const={const}", tflite, feeds)


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
def test_int16_maximum_minimum_match_tflm_on_random_models(op):
    outputs = set()
    for seed in SEEDS:
        case = max_min_case(op, seed)
        want = E.tflm(case)
        blob = convert_tflite_bytes(case.tflite, case.name).data
        assert blob[4:6] == b"\x02\x00"  # the 16x8 format
        check(io.BytesIO(blob))
        got = E.edgeloop(case, blob)
        bad = [k for k, (w, g) in enumerate(zip(want, got)) if w != g]
        assert not bad, (f"{case.name}: run {bad[0]}: edgeloop {got[bad[0]][:16].hex()} "
                         f"vs TFLM {want[bad[0]][:16].hex()}")
        outputs.update(want)
    assert len(outputs) > len(SEEDS)


@pytest.mark.parametrize("n", range(6))
def test_int16_dequantize_matches_tflm_on_every_code(n):
    """DEQUANTIZE int16 -> float32 of every int16 code, scales across ten decades (and a few
    exact powers of two), zero points 0 and not: the float32 bits equal TFLM's, which rounds the
    double product once; a truncating, double-rounding or low-bit-dropping kernel differs."""
    rng = np.random.default_rng([6, 16, n])
    scale = float(np.float32(2.0 ** int(rng.integers(-20, 4)) if n == 5 else 10 ** rng.uniform(-8, 2)))
    zp = 0 if n < 3 else int(rng.integers(-32768, 32768))
    codes = rng.permutation(np.arange(-32768, 32768)).astype(np.int16).reshape(1, 256, 256)
    tflite = M.build([T("x", codes.shape, "int16", scale, zp), T("y", codes.shape, "float32")],
                     [Op(M.schema().BuiltinOperator.DEQUANTIZE, ["x"], ["y"])], ["x"], ["y"])
    case = E.Case(f"DEQUANTIZE int16 scale {scale} zp {zp}", tflite, [[codes]])
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    ref = runtime.Interpreter.from_bytes(tflite, arena_size=1 << 20)
    ref.set_input(codes, 0)
    ref.invoke()
    want = ref.get_output(0).copy()
    blob = convert_tflite_bytes(tflite, case.name).data
    check(io.BytesIO(blob))
    got = np.frombuffer(E.edgeloop(case, blob)[0], "<f4").reshape(want.shape)
    diff = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))
    assert diff.size == 0, (f"{case.name}: {diff.size} values differ, first codes {codes.reshape(-1)[diff[:3]]}: "
                            f"{got.reshape(-1)[diff[:3]]} vs TFLM {want.reshape(-1)[diff[:3]]}")


def test_an_int16_dequantize_whose_values_leave_float32s_normal_range_is_refused():
    from edgeloop.errors import ConversionError

    tflite = M.build([T("x", (1, 4), "int16", 1e-42, 0), T("y", (1, 4), "float32")],
                     [Op(M.schema().BuiltinOperator.DEQUANTIZE, ["x"], ["y"])], ["x"], ["y"])
    with pytest.raises(ConversionError, match="outside float32's normal range"):
        convert_tflite_bytes(tflite, "tiny")
