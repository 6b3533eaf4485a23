"""ONNX models through `edgeloop convert`: onnx2tf (in its own environment) makes the float
model, TFLite's calibrator makes it int8, and edgeloop runs it byte for byte as TFLM runs the
same flatbuffer. The models are PyTorch's (tests/tools/torch_zoo), exported to ONNX by PyTorch;
PyTorch's float output is the independent check that the layout (NCHW / NCL in) survived
onnx2tf, and that the float reference edgeloop reports (onnxruntime) is the model's.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools import onnx_env, torch_zoo
from tests.tools.cli_result import invoke, one_line
from tests.tools.runtime_helpers import edgeloop_interpreter, edgeloop_run, tflm_run

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def onnx2tf():
    path = onnx_env.onnx2tf()
    if path is None:
        pytest.skip("onnx2tf is not installed (make setup builds .venv-onnx2tf; or set EDGELOOP_ONNX2TF)")
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, onnx2tf):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'edgeloop[torch]')")
    pytest.importorskip("onnx", reason="onnx is not installed (pip install 'edgeloop[torch]')")
    d = tmp_path_factory.mktemp("onnx")
    return {name: onnx_env.export(name, d) for name in torch_zoo.ZOO}


@pytest.fixture(scope="module")
def converted(exported, onnx2tf):
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.convert.source import load_source

    mp = pytest.MonkeyPatch()
    mp.setenv("EDGELOOP_ONNX2TF", str(onnx2tf))
    out = {}
    for name, (path, calib) in exported.items():
        source = load_source(path, calib)
        out[name] = (source, convert_tflite_bytes(source.tflite, name))
    yield out
    mp.undo()


@pytest.mark.parametrize("name", sorted(torch_zoo.ZOO))
def test_onnx_model_runs_as_tflm_runs_it(converted, name):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    source, result = converted[name]
    assert source.kind == "onnx"
    ours = edgeloop_interpreter(result.data)
    t = ours.model.inputs[0]
    assert tuple(t.shape[1:]) == torch_zoo.SHAPES[name], f"onnx2tf changed the input layout to {t.shape}"
    ref = runtime.Interpreter.from_bytes(source.tflite)
    rng = np.random.default_rng(5)
    outputs = set()
    for i in range(6):
        x = rng.integers(-128, 128, size=t.shape, dtype=np.int8)
        want = tflm_run(ref, x)
        got = edgeloop_run(ours, x).reshape(want.shape)
        assert np.array_equal(got, want), f"{name} input #{i}: edgeloop {got.reshape(-1)[:8]} vs TFLM {want.reshape(-1)[:8]}"
        outputs.add(want.tobytes())
    assert len(outputs) > 2, "every input gives the same output: the comparison proves nothing"


@pytest.mark.parametrize("name", sorted(torch_zoo.ZOO))
def test_int8_model_follows_pytorchs_float_model(converted, name):
    """Dequantized int8 output against PyTorch's float output on calibration-like inputs: an
    input read in the wrong layout would give unrelated numbers, not a rounding error."""
    err, span = torch_zoo.int8_gap(name, converted[name][0].tflite)
    assert err < 0.1 * span, f"int8 drifts from float: max error {err:.3f}, output span {span:.3f}"


def test_the_float_reference_is_the_onnx_model(converted, onnx2tf, monkeypatch):
    """The float column of --validate comes from onnxruntime on the .onnx: it must give
    PyTorch's numbers for the model PyTorch exported."""
    import torch

    monkeypatch.setenv("EDGELOOP_ONNX2TF", str(onnx2tf))
    source, _ = converted["cnn"]
    x = torch_zoo.calibration("cnn", n=5, seed=13)
    got = source.float_predictor()(x)
    with torch.no_grad():
        want = torch_zoo.build("cnn")(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_cli_writes_the_model_file(exported, onnx2tf, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELOOP_ONNX2TF", str(onnx2tf))
    path, calib = exported["conv1d"]
    out = tmp_path / "net.elm"
    r = invoke("convert", path, "--calib", calib, "--out", out, "--board", "rp2040")
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 0 and "fits rp2040" in r.output


def test_cli_without_calibration_names_the_shape(exported, onnx2tf, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELOOP_ONNX2TF", str(onnx2tf))
    path, _ = exported["cnn"]
    line = one_line(invoke("convert", path, "--out", tmp_path / "x.elm"))
    assert "--calib" in line and "(N, 3, 12, 10)" in line, line
    assert not (tmp_path / "x.elm").exists()


def test_cli_refuses_a_file_that_is_not_onnx(onnx2tf, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELOOP_ONNX2TF", str(onnx2tf))
    bad = tmp_path / "net.onnx"
    bad.write_bytes(b"not a protobuf")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.zeros((4, 3, 12, 10), np.float32))
    line = one_line(invoke("convert", bad, "--calib", calib, "--out", tmp_path / "x.elm"))
    assert "could not read net.onnx" in line, line
    assert not (tmp_path / "x.elm").exists()


def test_without_onnx2tf_it_says_how_to_install_it(tmp_path, monkeypatch):
    """No onnx2tf anywhere: one line with the install commands, before anything is written."""
    monkeypatch.delenv("EDGELOOP_ONNX2TF", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    model = tmp_path / "net.onnx"
    model.write_bytes(b"\x08\x07")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.zeros((4, 3), np.float32))
    line = one_line(invoke("convert", model, "--calib", calib, "--out", tmp_path / "x.elm"))
    assert "needs onnx2tf" in line and "pip install onnx2tf==" in line, line
    monkeypatch.setenv("EDGELOOP_ONNX2TF", str(tmp_path / "nowhere" / "onnx2tf"))
    line = one_line(invoke("convert", model, "--calib", calib, "--out", tmp_path / "x.elm"))
    assert "is not an executable onnx2tf script" in line, line
    assert not (tmp_path / "x.elm").exists()
