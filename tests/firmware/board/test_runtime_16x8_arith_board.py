"""The 16x8 kernels of LOGISTIC, TANH, SUB, MUL, LEAKY_RELU, TRANSPOSE_CONV and BATCH_MATMUL on
the virtual board and the unix-port interpreters, byte for byte against TFLM: one small
model through all of them (the converter's own 16x8 quantization), and a hand-built PRELU
with an int8 alpha (which the converter does not emit). The calibrated input runs
heap-locked (nothing allocated); full-range and extreme codes run unlocked (a MUL of -32768
by -32768 or an int64 BATCH_MATMUL sum past 2**30 takes Python's exact long ints).
"""

import numpy as np
import pytest

from tests.firmware.board.test_runtime_board import HEAP_LOCKED, board  # noqa: F401  (the fixture)
from tests.tools.models_16x8 import randomize, to_16x8
from tests.tools.runtime_helpers import tflm_run

pytestmark = [pytest.mark.sim, pytest.mark.tf]

NEW_OPS = {"LOGISTIC", "TANH", "SUB", "MUL", "LEAKY_RELU", "TRANSPOSE_CONV", "BATCH_MATMUL"}


def arith_model():
    """A conv, a transposed conv back up, a squeeze-and-excite style MUL by a sigmoid gate,
    a SUB, LEAKY_RELU, a TANH branch and a matmul of two activations."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(23)
    inp = keras.Input((4, 4, 2), batch_size=1)
    x = L.Conv2D(3, 3, strides=2, padding="same")(inp)                     # 2x2x3
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")(x)  # 4x4x3
    gate = L.Activation("sigmoid")(L.Conv2D(3, 1)(L.GlobalAveragePooling2D(keepdims=True)(x)))
    x = L.Multiply()([x, gate])                                            # broadcast MUL
    x = L.LeakyReLU(negative_slope=0.3)(L.Subtract()([x, L.Conv2D(3, 1)(x)]))
    t = L.Activation("tanh")(L.Conv2D(3, 1)(x))
    m = keras.ops.matmul(L.Reshape((16, 3))(x), keras.ops.swapaxes(L.Reshape((16, 3))(t), 1, 2))  # 16x16
    model = keras.Model(inp, L.Dense(4)(L.Flatten()(m)))
    rng = np.random.default_rng(23)
    randomize(model, rng)
    return model, rng.normal(0, 2, (16, 4, 4, 2)).astype(np.float32)


def test_the_new_16x8_ops_on_the_board_match_tflm(board):  # noqa: F811
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from edgeloop.convert.int8 import convert_tflite_bytes

    model, x = arith_model()
    tflite = to_16x8(tf, model, x)
    converted = convert_tflite_bytes(tflite, "arith_16x8")
    assert {o.name for o in converted.ops} >= NEW_OPS, {o.name for o in converted.ops}
    ref = runtime.Interpreter.from_bytes(tflite)
    scale = float(ref.get_input_details(0)["quantization_parameters"]["scales"][0])
    rng = np.random.default_rng(29)
    xs = [np.clip(np.round(x[0:1] / scale), -32768, 32767).astype(np.int16),
          rng.integers(-32768, 32768, size=(1, 4, 4, 2)).astype(np.int16),
          np.full((1, 4, 4, 2), -32768, np.int16)]
    files = {"m16.elm": converted.data}
    for i, v in enumerate(xs):
        files[f"x{i}.bin"] = v.tobytes()
    dev = board(files)
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


def test_a_hand_built_int16_prelu_on_the_board_matches_tflm(board):  # noqa: F811
    """PRELU with an int16 input and an int8 per-channel alpha (the converter's 16x8 mode does
    not emit it): 1024 random codes and both extremes, heap-locked."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import op_models as M
    from tests.tools.op_models import Op, T

    rng = np.random.default_rng(54)
    shape = (1, 16, 64)
    tensors = [T("x", shape, dtype="int16", scale=3e-3),
               T("a", (64,), dtype="int8", scale=0.01, zero_point=-7,
                 data=rng.integers(-128, 128, size=64).astype(np.int8)),
               T("y", shape, dtype="int16", scale=2e-3)]
    tflite = M.build(tensors, [Op(M.schema().BuiltinOperator.PRELU, ["x", "a"], ["y"])], ["x"], ["y"])
    converted = convert_tflite_bytes(tflite, "prelu_16x8")
    ref = runtime.Interpreter.from_bytes(tflite)
    x = rng.integers(-32768, 32768, size=shape).astype(np.int16)
    x.ravel()[:2] = (-32768, 32767)
    dev = board({"p16.elm": converted.data, "x.bin": x.tobytes()})
    out = dev.exec(HEAP_LOCKED.split("it = Interpreter")[0] + "it = Interpreter(Model(open('/p16.elm', 'rb')))\n"
                   "with open('/x.bin', 'rb') as f:\n    it.set_input(f.read())\n"
                   "result, grew = locked_invoke(it)\nprint('RUN', result, grew, it.get_output().hex())\n",
                   timeout=120).decode()
    fields = out.split("RUN ")[1].split()
    assert fields[:2] == ["ok", "0"], f"invoke() allocated ({fields[:2]})"
    want = tflm_run(ref, x)
    assert len(np.unique(want)) > 500
    assert fields[2] == want.astype("<i2").tobytes().hex()
