"""`edgeloop convert` on Keras models, SavedModels and float .tflite files, and its refusals."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from tests.tools import keras_zoo
from edgeloop.cli import cli
from tests.tools.runtime_helpers import DATA, edgeloop_interpreter, edgeloop_run, need, tflm_run

pytestmark = pytest.mark.tf


def one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The conv2d zoo model as a user has it: a .keras file and calibration data."""
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    d = tmp_path_factory.mktemp("keras_cli")
    model = keras_zoo.build("conv2d")
    model.save(d / "m.keras")
    x = keras_zoo.calibration(model, n=30)
    np.savez(d / "calib.npz", x=x)
    y = np.asarray(model(x)).argmax(axis=1)
    y[:4] = 1 - y[:4]  # some wrong labels, so accuracy is not trivially 100 %
    np.savez(d / "val.npz", x=x, y=y, classes=np.array(["left", "right"]))
    return d, model, x


def tflm(tflite: bytes):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    return runtime.Interpreter.from_bytes(tflite)


def assert_same_as_tflm(elm: bytes, tflite: bytes, xs):
    ours, ref = edgeloop_interpreter(elm), tflm(tflite)
    for x in xs:
        want = tflm_run(ref, x)
        assert np.array_equal(edgeloop_run(ours, x).reshape(want.shape), want)


def test_cli_keras_with_validation_and_html_report(saved):
    d, _, x = saved
    r = CliRunner().invoke(cli, ["convert", str(d / "m.keras"), "--calib", str(d / "calib.npz"), "-o", str(d / "m.elm"),
                                 "--validate", str(d / "val.npz"), "--report", str(d / "r.html"), "--board", "rp2040"])
    assert r.exit_code == 0, r.output
    assert "fits rp2040" in r.output and "TFLM's arena" in r.output
    assert "identical to TFLM on 30/30" in r.output
    for runner in ("float (TensorFlow)", "int8 TFLite (TFLM)", "edgeloop"):
        assert runner in r.output
    page = (d / "r.html").read_text()
    assert page.count("<svg") >= 4 and "<script" not in page and "http://www.w3.org/2000/svg" in page
    assert "right" in page and "CONV_2D" in page
    # The written model is the converter's int8 model, run bit-exactly.
    from edgeloop.convert.keras import convert_keras
    tflite = convert_keras(d / "m.keras", x).tflite
    q = [np.random.default_rng(i).integers(-128, 128, (1, 11, 9, 2), dtype=np.int8) for i in range(3)]
    assert_same_as_tflm((d / "m.elm").read_bytes(), tflite, q)


def test_savedmodel_directory_converts_bit_exactly(saved, tmp_path):
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.convert.source import load_source

    d, model, x = saved
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):  # export() prints its signature
        model.export(tmp_path / "sm")
    source = load_source(tmp_path / "sm", x)
    assert source.kind == "savedmodel"
    converted = convert_tflite_bytes(source.tflite)
    assert "MEAN" in {o.name for o in converted.ops}
    assert tflm(source.tflite).get_input_details(0)["shape"].tolist() == [1, 11, 9, 2]
    q = [np.random.default_rng(10 + i).integers(-128, 128, (1, 11, 9, 2), dtype=np.int8) for i in range(3)]
    assert_same_as_tflm(converted.data, source.tflite, q)
    predict = source.float_predictor()
    assert np.allclose(predict(x[:2]), np.asarray(model(x[:2])), atol=1e-5)


def test_float_tflite_with_calibration_is_quantized(tmp_path):
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.convert.source import load_source

    path = need(DATA / "tflm" / "hello_world" / "hello_world_float.tflite")
    np.save(tmp_path / "c.npy", np.linspace(0, 2 * np.pi, 64, dtype=np.float32).reshape(64, 1))
    source = load_source(path, tmp_path / "c.npy")
    assert source.kind == "float-tflite"
    converted = convert_tflite_bytes(source.tflite)
    assert_same_as_tflm(converted.data, source.tflite, [np.array([[v]], np.int8) for v in range(-128, 128, 5)])


def test_keras_without_calibration_says_what_shape_to_give(saved):
    d, _, _ = saved
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(d / "m.keras"), "-o", str(d / "x.elm")]))
    assert "--calib" in line and "(N, 11, 9, 2)" in line
    assert not (d / "x.elm").exists()


def test_wrong_calibration_shape_is_refused(saved, tmp_path):
    d, _, x = saved
    np.save(tmp_path / "bad.npy", x[:, :5])
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(d / "m.keras"), "--calib", str(tmp_path / "bad.npy"),
                                                   "-o", str(tmp_path / "x.elm")]))
    assert "(30, 5, 9, 2)" in line and "(N, 11, 9, 2)" in line
    np.save(tmp_path / "one.npy", x[0])
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(d / "m.keras"), "--calib", str(tmp_path / "one.npy"),
                                                   "-o", str(tmp_path / "x.elm")]))
    assert "batch axis" in line
    assert not (tmp_path / "x.elm").exists()


def test_wrong_validation_shape_writes_nothing(saved, tmp_path):
    d, _, x = saved
    np.savez(tmp_path / "v.npz", x=x[:, :, :4], y=np.zeros(len(x), int))
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(d / "m.keras"), "--calib", str(d / "calib.npz"),
                                                   "--validate", str(tmp_path / "v.npz"), "-o", str(tmp_path / "x.elm")]))
    assert "validation x" in line and "(N, 11, 9, 2)" in line
    assert not (tmp_path / "x.elm").exists()


def test_unsupported_op_is_refused_with_its_name_and_layer(tmp_path):
    pytest.importorskip("tensorflow")
    model = keras_zoo.build("unsupported")
    model.save(tmp_path / "elu.keras")
    np.save(tmp_path / "c.npy", keras_zoo.calibration(model))
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(tmp_path / "elu.keras"), "--calib",
                                                   str(tmp_path / "c.npy"), "-o", str(tmp_path / "l.elm")]))
    assert "ELU" in line and "elu_layer" in line
    assert not (tmp_path / "l.elm").exists()


def test_keras3_lstm_is_refused_before_the_calibrator_crashes(tmp_path):
    """Keras 3's LSTM is a WHILE loop after conversion, and TFLite's int8 calibrator dies
    on it with a segmentation fault (no message at all): convert must refuse first."""
    pytest.importorskip("tensorflow")
    import keras

    inp = keras.Input((20, 6), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(4)(keras.layers.LSTM(12, name="gesture_lstm")(inp)))
    model.save(tmp_path / "lstm.keras")
    np.save(tmp_path / "c.npy", np.zeros((4, 20, 6), np.float32))
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(tmp_path / "lstm.keras"), "--calib",
                                                   str(tmp_path / "c.npy"), "-o", str(tmp_path / "l.elm")]))
    assert "gesture_lstm" in line and "tf_keras" in line and ".tflite" in line
    assert not (tmp_path / "l.elm").exists()


def test_missing_tensorflow_says_how_to_install(saved, monkeypatch):
    d, _, _ = saved
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow now raises ImportError
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(d / "m.keras"), "--calib", str(d / "calib.npz"),
                                                   "-o", str(d / "y.elm")]))
    assert "pip install 'edgeloop[tf]'" in line
    assert not (d / "y.elm").exists()


def test_not_a_model_is_refused(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"\x89HDF")
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(tmp_path / "m.h5")]))
    assert ".keras" in line and "SavedModel" in line
