"""Kinds of Keras model users bring (issue 18's proof), converted as a user converts them and run
on the virtual board and the unix ports, byte for byte against TFLM.

`mobilenet_block` (tests/tools/keras_zoo.py) is a MobileNetV3-style block: HARD_SWISH after the
stem and the depthwise convolution, a squeeze-and-excite whose hard_sigmoid the converter lowers
to a relu6 FULLY_CONNECTED and a MUL, its per-channel MUL broadcast over the feature map, then
pointwise, MEAN, FULLY_CONNECTED, SOFTMAX. `autoencoder` is a convolutional autoencoder: two
strided CONV_2Ds down, two strided TRANSPOSE_CONVs up (the first with a fused relu), LOGISTIC.
The DS-CNN with 16x8 activations, the LSTM gesture model and the PyTorch CNN have their own board
tests (test_runtime_16x8_board.py, test_ops_board.py, test_torch_board.py).

Before the board, the same inputs go through edgeloop's runtime on the host, so a difference is
placed on the host or on the board at once.
"""

import numpy as np
import pytest

from tests.tools import keras_zoo
from tests.tools.board_models import assert_board_matches_tflm
from tests.tools.runtime_helpers import edgeloop_interpreter, edgeloop_run, tflm_run

pytestmark = [pytest.mark.sim, pytest.mark.tf]

KINDS = ["mobilenet_block", "autoencoder"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """name -> (int8 .tflite, edgeloop model file, inputs): calibrated, full-range random, extremes."""
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    from edgeloop.convert.int8 import convert_tflite_bytes

    d = tmp_path_factory.mktemp("kinds_board")
    out = {}
    for name in KINDS:
        tflite = keras_zoo.to_tflite(name, d)
        converted = convert_tflite_bytes(tflite, name)
        ops = {o.name for o in converted.ops}
        assert keras_zoo.OPS[name] <= ops, f"{name}: the converter no longer emits {keras_zoo.OPS[name] - ops}"
        q = runtime.Interpreter.from_bytes(tflite).get_input_details(0)["quantization_parameters"]
        xs = keras_zoo.int8_inputs(name, float(q["scales"][0]), int(q["zero_points"][0]))
        out[name] = (tflite, converted.data, xs)
    return out


@pytest.mark.parametrize("name", KINDS)
def test_model_kind_on_the_host_matches_tflm(cases, name):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    tflite, blob, xs = cases[name]
    ref, ours = runtime.Interpreter.from_bytes(tflite), edgeloop_interpreter(blob)
    outputs = set()
    for i, x in enumerate(xs):
        want = tflm_run(ref, x)
        got = edgeloop_run(ours, x).reshape(want.shape)
        diff = np.flatnonzero(got != want)
        assert diff.size == 0, f"{name} input #{i}: {diff.size} bytes differ from TFLM, first at {diff[:5]}"
        outputs.add(want.tobytes())
    # a 4-class softmax can give two inputs one output; most must differ, or nothing was compared
    assert len(outputs) > len(xs) // 2, f"{name}: {len(outputs)} distinct outputs of {len(xs)} inputs"


def test_model_kinds_on_the_board_match_tflm(cases, any_board):
    assert_board_matches_tflm(any_board, {f"kind_{name}": case for name, case in cases.items()})
