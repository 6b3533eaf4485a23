"""The MLPerf Tiny reference int8 models (DS-CNN KWS, MobileNet VWW, ResNet-8 IC, FC
autoencoder AD) convert and run bit-exact with TFLM, byte for byte, on seeded random
inputs. Whole published models: every conv/depthwise/pool/add/FC/softmax shape they
use, with their real per-channel quantization."""

import pytest

from edgeloop.convert.int8 import convert_tflite

from tests.tools.mlperf_tiny import DIR, MODELS, random_inputs
from tests.tools.runtime_helpers import edgeloop_interpreter, edgeloop_run, need, tflm, tflm_run


@pytest.mark.parametrize("bench", MODELS, ids=[b.name for b in MODELS])
def test_mlperf_tiny_model_matches_tflm(bench):
    path = need(DIR / bench.file)
    converted = convert_tflite(path)
    assert converted.macs == bench.macs  # the converter counts the MACs MLPerf publishes
    ours, ref = edgeloop_interpreter(converted.data), tflm(path)
    outputs = set()
    for x in random_inputs(ours.model.inputs[0].shape, 2, seed=2024):
        want = tflm_run(ref, x)
        got = edgeloop_run(ours, x)
        assert got.tobytes() == want.tobytes(), f"{bench.file}: edgeloop {got.ravel()} vs tflm {want.ravel()}"
        outputs.add(want.tobytes())
    assert len(outputs) == 2  # the two inputs reached different outputs: not a constant model
