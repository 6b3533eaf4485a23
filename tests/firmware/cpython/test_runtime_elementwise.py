"""The element-wise ops (SUB, MUL, MAXIMUM, MINIMUM, LEAKY_RELU, HARD_SWISH, PRELU, DEQUANTIZE) under
edgeloop's runtime on CPython vs TFLM's reference kernels: identical output bytes on randomized models
(shapes, broadcasting, scales, zero points, constant operands, fused activations)."""

import pytest

from edgeloop.convert.int8 import convert_tflite_bytes
from edgeloop_fw.runtime.validate import check

from tests.tools import elementwise_cases as E

SEEDS = range(40)


def _same(case, want, got):
    bad = [k for k, (w, g) in enumerate(zip(want, got)) if w != g]
    assert not bad, (f"{case.name}: run {bad[0]} differs: edgeloop {got[bad[0]][:16].hex()} "
                     f"vs TFLM {want[bad[0]][:16].hex()}")


@pytest.mark.parametrize("op", E.OPS)
def test_binary_op_matches_tflm_on_random_models(op):
    import io

    outputs = set()
    for seed in SEEDS:
        case = E.case(op, seed)
        want = E.tflm(case)
        blob = convert_tflite_bytes(case.tflite, case.name).data
        check(io.BytesIO(blob))
        _same(case, want, E.edgeloop(case, blob))
        outputs.update(want)
    assert len(outputs) > len(SEEDS), "the random models give too few distinct outputs to prove anything"
