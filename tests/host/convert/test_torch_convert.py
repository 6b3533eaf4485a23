"""PyTorch models through `edgeloop convert`: litert-torch's float model, calibrated to int8,
run by edgeloop byte for byte as TFLM runs the same int8 flatbuffer, and close to PyTorch's
own float output (the independent check that the layout, NCHW in and out, survived).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools.cli_result import invoke, one_line
from tests.tools.runtime_helpers import edgeloop_interpreter, edgeloop_run, tflm_run
from tests.tools import torch_zoo

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'edgeloop[torch]')")
    pytest.importorskip("litert_torch", reason="litert-torch is not installed (pip install 'edgeloop[torch]')")
    d = tmp_path_factory.mktemp("torch")
    out = {}
    for name in torch_zoo.ZOO:
        pt2, calib = torch_zoo.save(name, d)
        out[name] = (pt2, calib)
    return out


@pytest.fixture(scope="module")
def converted(exported):
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.convert.source import load_source

    out = {}
    for name, (pt2, calib) in exported.items():
        source = load_source(pt2, calib)
        out[name] = (source, convert_tflite_bytes(source.tflite, name))
    return out


@pytest.mark.parametrize("name", sorted(torch_zoo.ZOO))
def test_pytorch_model_runs_as_tflm_runs_it(converted, name):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    source, result = converted[name]
    assert source.kind == "torch"
    ops = {o.name for o in result.ops}
    assert torch_zoo.OPS[name] <= ops, f"litert-torch's lowering changed: {sorted(ops)}"
    ours = edgeloop_interpreter(result.data)
    ref = runtime.Interpreter.from_bytes(source.tflite)
    t = ours.model.inputs[0]
    rng = np.random.default_rng(3)
    outputs = set()
    for i in range(6):
        x = rng.integers(-128, 128, size=t.shape, dtype=np.int8)
        want = tflm_run(ref, x)
        got = edgeloop_run(ours, x).reshape(want.shape)
        assert np.array_equal(got, want), f"{name} input #{i}: edgeloop {got.reshape(-1)[:8]} vs TFLM {want.reshape(-1)[:8]}"
        outputs.add(want.tobytes())
    assert len(outputs) > 2, "every input gives the same output: the comparison proves nothing"


@pytest.mark.parametrize("name", sorted(torch_zoo.ZOO))
def test_int8_model_follows_the_float_pytorch_model(converted, exported, name):
    """TFLM's int8 output, dequantized, against torch's float output on calibration-like inputs:
    a layout mix-up (NCHW read as NHWC) would give unrelated numbers, not a rounding error."""
    err, span = torch_zoo.int8_gap(name, converted[name][0].tflite)
    assert err < 0.1 * span, f"int8 drifts from float: max error {err:.3f}, output span {span:.3f}"


def test_cli_writes_the_model_file(exported, tmp_path):
    pt2, calib = exported["cnn"]
    out = tmp_path / "net.elm"
    r = invoke("convert", pt2, "--calib", calib, "--out", out, "--board", "rp2040")
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 0 and "fits rp2040" in r.output


def test_cli_without_calibration_names_the_shape(exported, tmp_path):
    pt2, _ = exported["cnn"]
    line = one_line(invoke("convert", pt2, "--out", tmp_path / "x.elm"))
    assert "--calib" in line and "(N, 3, 12, 10)" in line, line
    assert not (tmp_path / "x.elm").exists()


def test_cli_refuses_a_file_that_is_not_a_pt2_archive(tmp_path):
    bad = tmp_path / "net.pt2"
    bad.write_bytes(b"not a zip")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.zeros((4, 3, 12, 10), np.float32))
    assert "not a .pt2 archive" in one_line(invoke("convert", bad, "--calib", calib))


def test_missing_torch_extra_is_one_line(tmp_path, monkeypatch):
    import sys
    import zipfile

    from edgeloop.convert import torch_source
    from edgeloop.errors import ToolMissing

    pt2 = tmp_path / "net.pt2"
    with zipfile.ZipFile(pt2, "w") as z:
        z.writestr("net/version", "1")
    monkeypatch.setitem(sys.modules, "litert_torch", None)
    with pytest.raises(ToolMissing, match=r"pip install 'edgeloop\[torch\]'"):
        torch_source.load_exported(pt2)
