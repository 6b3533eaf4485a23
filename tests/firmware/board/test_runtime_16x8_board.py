"""16x8 models (int16 activations, int8 weights) on the virtual board and the unix-port
interpreters, byte for byte against TFLM: the board's own integers (MicroPython's
small ints and long ints; a 16x8 accumulator passes 2**30) give TFLM's int64 results;
MLPerf Tiny's keyword-spotting DS-CNN, converted by `edgeloop convert --activations int16`,
gives TFLM's bytes on the board too; the 16x8 data-movement and selection kernels and DEQUANTIZE
give TFLM's bytes there without allocating.
"""

import numpy as np
import pytest

from tests.firmware.board.test_runtime_board import HEAP_LOCKED, board, locked_outputs  # noqa: F401  (the fixture)
from tests.tools.models_16x8 import ds_cnn_kws, every_16x8_op, int16_inputs, movement_16x8, randomize, to_16x8
from tests.tools.runtime_helpers import tflm_run

pytestmark = [pytest.mark.sim, pytest.mark.tf]


def test_a_16x8_model_on_the_board_matches_tflm(board):  # noqa: F811
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from edgeloop.convert.int8 import convert_tflite_bytes

    model, x = every_16x8_op()
    tflite = to_16x8(tf, model, x)
    converted = convert_tflite_bytes(tflite, "every_16x8_op")
    assert {o.name for o in converted.ops} >= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D",
                                                "MAX_POOL_2D", "MEAN", "QUANTIZE", "CONCATENATION", "RESHAPE",
                                                "FULLY_CONNECTED", "SOFTMAX", "RELU6"}
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


@pytest.mark.slow
def test_mlperf_kws_ds_cnn_converted_with_int16_activations_on_the_board_matches_tflm(board, tmp_path):  # noqa: F811
    """MLPerf Tiny's DS-CNN at full size through `edgeloop convert --activations int16` (the
    user's path: a .keras file and calibration samples), run by the board, against TFLM
    running the 16x8 .tflite that conversion made."""
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    import keras
    from click.testing import CliRunner

    from edgeloop.cli import cli
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.convert.keras import convert_keras

    keras.utils.set_random_seed(17)
    rng = np.random.default_rng(17)
    model = ds_cnn_kws()
    randomize(model, rng)
    model.save(tmp_path / "kws.keras")
    x = (rng.normal(0, 1, (24, 49, 10, 1)) * 4).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    r = CliRunner().invoke(cli, ["convert", str(tmp_path / "kws.keras"), "--calib", str(tmp_path / "calib.npz"),
                                 "--activations", "int16", "-o", str(tmp_path / "kws.elm")])
    assert r.exit_code == 0, r.output
    elm = (tmp_path / "kws.elm").read_bytes()
    tflite = convert_keras(tmp_path / "kws.keras", x, activations="int16").tflite
    assert convert_tflite_bytes(tflite, "kws").data == elm  # TFLM below runs what the CLI converted
    ref = runtime.Interpreter.from_bytes(tflite)
    scale = float(ref.get_input_details(0)["quantization_parameters"]["scales"][0])
    xs = int16_inputs((1, 49, 10, 1), scale, x, rng)
    xs = [xs[0], xs[2], xs[-1]]  # calibrated, full-range random, the top code
    want = [tflm_run(ref, v).astype("<i2").tobytes().hex() for v in xs]
    assert len(set(want)) == len(want), "the inputs give equal outputs: the comparison proves little"
    dev = board({"kws.elm": elm, **{f"x{i}.bin": v.tobytes() for i, v in enumerate(xs)}})
    dev.exec("it = Interpreter(Model(open('/kws.elm', 'rb')))", timeout=60)
    got = []
    for i in range(len(xs)):
        out = dev.exec(f"it.set_input(open('/x{i}.bin', 'rb').read()); it.invoke(); "
                       "print('OUT', it.get_output().hex())", timeout=600).decode()
        got.append(out.split("OUT ")[1].split()[0])
    assert got == want


def test_16x8_data_movement_and_dequantize_on_the_board_match_tflm_allocation_free(board):  # noqa: F811
    """PAD, PADV2, SLICE, STRIDED_SLICE, MAXIMUM, MINIMUM, TRANSPOSE, SPLIT, UNPACK, PACK, SPLIT_V
    and DEQUANTIZE on int16 values in one model (tests.tools.models_16x8.movement_16x8), every
    inference under heap_lock; its float32 output's bits against TFLM's."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite = movement_16x8()
    converted = convert_tflite_bytes(tflite, "movement_16x8")
    assert {o.name for o in converted.ops} == {"PAD", "PADV2", "SLICE", "STRIDED_SLICE", "MAXIMUM", "MINIMUM",
                                               "TRANSPOSE", "SPLIT", "UNPACK", "PACK", "SPLIT_V", "DEQUANTIZE"}
    rng = np.random.default_rng(18)
    xs = [rng.integers(-32768, 32768, size=(1, 4, 5, 6)).astype(np.int16),
          np.where(rng.random((1, 4, 5, 6)) < 0.5, -32768, 32767).astype(np.int16),
          rng.integers(-300, 300, size=(1, 4, 5, 6)).astype(np.int16)]
    ref = runtime.Interpreter.from_bytes(tflite)
    want = [tflm_run(ref, v).astype("<f4").tobytes().hex() for v in xs]
    assert len(set(want)) == len(want), "the inputs give equal outputs: the comparison proves little"
    dev = board({"mv.elm": converted.data, **{f"x{i}.bin": v.tobytes() for i, v in enumerate(xs)}})
    assert locked_outputs(dev, "mv.elm", len(xs)) == want
