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


def test_data_movement_ops_on_micropython_match_tflm(any_board):
    """PAD, PADV2, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, UNPACK, PACK and GATHER, chained in one
    model, then a model of several inputs and outputs (SPLIT, UNPACK: each output read back),
    two TRANSPOSE_CONVs and two BATCH_MATMULs."""
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    import tensorflow as tf

    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import tf_op_models as tom

    chain = tom.movement_tflite()
    assert tom.MOVEMENT_OPS <= set(tom.op_names(chain))
    multi = tom.convert(lambda a, b: tf.split(tom.quantized(a), [2, -1], axis=-2) + tf.unstack(tom.quantized(b), axis=0),
                        [(3, 5, 2), (3, 4)], seed=5)
    files, code, want = {}, ["from edgeloop_fw.runtime.loader import Model",
                             "from edgeloop_fw.runtime.interpreter import Interpreter"], {}
    for name, tflite in (("chain", chain), ("multi", multi), ("tconv", tom.transpose_conv_tflite()),
                          ("matmul", tom.batch_matmul_tflite())):
        files[f"/{name}.elm"] = convert_tflite_bytes(tflite, name).data
        part = [f"it = Interpreter(Model(open('/{name}.elm', 'rb')))"]
        for k in range(3):
            xs = tom.random_inputs(tflite, 10 + k)
            for i, x in enumerate(xs):
                files[f"/{name}_{k}_{i}.bin"] = x.tobytes()
                part.append(f"it.set_input(open('/{name}_{k}_{i}.bin', 'rb').read(), {i})")
            for j, out in enumerate(tom.tflm_outputs(tflite, xs)):
                want[f"{name}_{k}_{j}"] = out.hex()
                part.append(f"it.invoke() if {j} == 0 else None; print('{name}_{k}_{j}', it.get_output({j}).hex())")
        code.append("\n".join(part + ["it = None"]))
    any_board.put(files)
    out = any_board.run(code)
    got = dict(line.split() for line in out.strip().splitlines() if line.split() and line.split()[0] in want)
    assert set(got) == set(want), out[-2000:]
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, f"differ from TFLM on MicroPython: {bad}"
