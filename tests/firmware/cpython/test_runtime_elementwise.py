"""The element-wise ops (SUB, MUL, MAXIMUM, MINIMUM, LEAKY_RELU, HARD_SWISH, PRELU, DEQUANTIZE, QUANTIZE) under
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


@pytest.mark.parametrize("s_in,s_out", [(0.001, 1.0), (0.0005, 0.9), (0.02, 0.0002), (1.0, 0.0079)])
def test_hard_swish_at_extreme_scale_ratios(s_in, s_out):
    """Output exponents of -16 and beyond (gemmlowp's int16 rounding shift then rounds with a
    16-bit mask) and reluish exponents far above 0 (saturating left shifts), all 256 codes."""
    import numpy as np

    from tests.tools import op_models as M

    s = M.schema()
    for zp_in, zp_out in ((-128, 127), (0, 0), (37, -90)):
        tensors = [M.T("x", (1, 256), scale=s_in, zero_point=zp_in), M.T("y", (1, 256), scale=s_out, zero_point=zp_out)]
        tflite = M.build(tensors, [M.Op(s.BuiltinOperator.HARD_SWISH, ["x"], ["y"])], ["x"], ["y"])
        case = E.Case(f"HARD_SWISH {s_in}->{s_out} zp {zp_in}->{zp_out}", tflite,
                      [[np.arange(-128, 128, dtype=np.int8).reshape(1, 256)]])
        _same(case, E.tflm(case), E.edgeloop(case, convert_tflite_bytes(tflite).data))
