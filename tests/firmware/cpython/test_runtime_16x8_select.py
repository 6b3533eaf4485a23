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
        assert not bad, f"{case.name}: run {bad[0]}: edgeloop {got[bad[0]][:16].hex()} vs TFLM {want[bad[0]][:16].hex()}"
        outputs.update(want)
    assert len(outputs) > len(SEEDS)
