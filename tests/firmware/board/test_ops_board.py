"""Keras-derived ops on the rp2040 virtual board (real MicroPython, heap capped), byte for byte against TFLM.

A representative subset of the keras_zoo models: together they use ADD
(with broadcast-free requantization of both inputs), CONCATENATION, QUANTIZE,
MAX/AVERAGE pooling, MEAN, TRANSPOSE, STRIDED_SLICE, UNIDIRECTIONAL_SEQUENCE_LSTM, and the table ops RELU, RELU6, LOGISTIC, TANH,
besides RUNTIME's CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX.
The runtime is the deployed firmware; models and inputs go through the same
deploy library, one model per raw-REPL execution (the board collects
garbage only between them).
"""

import pytest


from tests.tools import keras_zoo  # noqa: E402
from tests.tools.board_models import assert_board_matches_tflm  # noqa: E402

pytestmark = [pytest.mark.sim, pytest.mark.tf]

SUBSET = ["residual", "mixed_scales", "global_pool", "activations", "pooling", "permute", "lstm_seq", "lstm", "strided"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    from edgeloop.convert.int8 import convert_tflite_bytes

    d = tmp_path_factory.mktemp("zoo_board")
    out = {}
    for name in SUBSET:
        tflite = keras_zoo.to_tflite(name, d)
        out[name] = (tflite, convert_tflite_bytes(tflite, name).data)
    return out


def test_zoo_subset_on_micropython_matches_tflm(converted, any_board):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    cases = {}
    for name, (tflite, blob) in converted.items():
        details = runtime.Interpreter.from_bytes(tflite).get_input_details(0)
        scale, zp = details["quantization_parameters"]["scales"][0], details["quantization_parameters"]["zero_points"][0]
        cases[name] = (tflite, blob, keras_zoo.int8_inputs(name, float(scale), int(zp), n_random=1)[2:5])
    assert_board_matches_tflm(any_board, cases)
