"""16x8 models (int16 activations, int8 weights) on the virtual board and the unix-port
interpreters, byte for byte against TFLM: the board's own integers (MicroPython's
small ints and long ints; a 16x8 accumulator passes 2**30) give TFLM's int64 results.
"""

import numpy as np
import pytest

from tests.firmware.board.test_runtime_board import HEAP_LOCKED, board  # noqa: F401  (the fixture)
from tests.tools.runtime_helpers import tflm_run

pytestmark = [pytest.mark.sim, pytest.mark.tf]


def every_16x8_op():
    """One small model through every 16x8 kernel: CONV_2D, DEPTHWISE_CONV_2D, ADD (also
    broadcast), AVERAGE/MAX_POOL_2D, MEAN, RESHAPE, FULLY_CONNECTED."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(7)
    inp = keras.Input((9, 7, 2), batch_size=1)
    x = L.Conv2D(5, 3, strides=(2, 1), padding="same", activation="relu")(inp)
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = L.Add()([x, L.Conv2D(10, 1)(x)])
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.MaxPooling2D((2, 1))(x)
    x = L.Add()([x, L.GlobalAveragePooling2D(keepdims=True)(x)])  # MEAN, broadcast back by the ADD
    model = keras.Model(inp, L.Dense(4, activation="relu6")(L.Flatten()(x)))
    rng = np.random.default_rng(3)
    for layer in model.layers:
        for v in layer.weights:
            if "bias" in v.path:
                v.assign(rng.normal(0, 0.5, v.shape).astype("float32"))
    return model, (rng.normal(0, 2, (16, 9, 7, 2))).astype(np.float32)


def test_a_16x8_model_on_the_board_matches_tflm(board):  # noqa: F811
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from edgeloop.convert.int8 import convert_tflite_bytes

    model, x = every_16x8_op()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int16
    tflite = bytes(conv.convert())
    converted = convert_tflite_bytes(tflite, "every_16x8_op")
    assert {o.name for o in converted.ops} >= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D",
                                                "MAX_POOL_2D", "MEAN", "RESHAPE", "FULLY_CONNECTED"}
    ref = runtime.Interpreter.from_bytes(tflite)
    scale = float(ref.get_input_details(0)["quantization_parameters"]["scales"][0])
    rng = np.random.default_rng(11)
    xs = [np.clip(np.round(x[0:1] / scale), -32768, 32767).astype(np.int16),
          rng.integers(-32768, 32768, size=(1, 9, 7, 2)).astype(np.int16),
          np.full((1, 9, 7, 2), 32767, np.int16)]
    files = {"m16.elm": converted.data}
    for i, v in enumerate(xs):
        files[f"x{i}.bin"] = v.tobytes()
    dev = board(files)
    # The calibrated input under heap_lock: the 16x8 kernels stay in small ints there
    # (qmath.mbqm64). Full-range codes can reach the exact long-int paths (an ADD input of
    # -32768 shifted left by 15 is -2**30, past qmath.mbqm's proven range): those run unlocked.
    dev.exec(HEAP_LOCKED.split("it = Interpreter")[0] + "it = Interpreter(Model(open('/m16.elm', 'rb')))\n",
             timeout=60)
    got = []
    for i in range(len(xs)):
        out = dev.exec(f"with open('/x{i}.bin', 'rb') as f:\n"
                       "    it.set_input(f.read())\n"
                       + ("result, grew = locked_invoke(it)\n" if i == 0 else "it.invoke()\nresult, grew = 'ok', 0\n")
                       + "print('RUN', result, grew, it.get_output().hex())\n", timeout=300).decode()
        fields = out.split("RUN ")[1].split()
        assert fields[:2] == ["ok", "0"], f"input {i}: invoke() allocated ({fields[:2]})"
        got.append(fields[2])
    want = [tflm_run(ref, v).astype("<i2").tobytes().hex() for v in xs]
    assert len(set(want)) == len(want), "the inputs give equal outputs: the comparison proves little"
    assert got == want
