"""ONNX models → float TFLite, through onnx2tf running in its own Python environment.

onnx2tf (PINTO0309's converter, on PyPI) is the maintained ONNX → TFLite path. It cannot live in
edgeloop's environment: its last release for Python 3.11 (1.29.24) pins TensorFlow 2.19 and
numpy 1.26, while the `tf` extra has TensorFlow 2.21 and numpy 2. So edgeloop runs it as a
program, the way it runs esptool or node: from `EDGELOOP_ONNX2TF` (the path of its `onnx2tf`
script) or from PATH. The `onnx` package and onnxruntime come with it, and edgeloop uses that
environment's interpreter for the two things that need them (the model's input names and
shapes, and the float reference for `--validate`), so the core install stays light.

onnx2tf turns NCHW models into NHWC ones unless told to keep an input's layout; edgeloop
keeps every 3-D to 5-D input as the ONNX model has it (`-k`), so calibration data, `--validate`
inputs, `predict` and the board all take the layout the model was trained with, as for a
PyTorch `.pt2`. The float `.tflite` it writes is then calibrated like any float `.tflite`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConversionError, ModelError, ToolMissing

SUFFIXES = (".onnx",)
ENV = "EDGELOOP_ONNX2TF"
INSTALL = ("python3 -m venv ~/.onnx2tf && ~/.onnx2tf/bin/pip install onnx2tf==1.29.24, then "
           f"export {ENV}=~/.onnx2tf/bin/onnx2tf")
TIMEOUT_S = 900  # a large model takes onnx2tf minutes; a hung one must not hang convert


def is_onnx_source(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def find_onnx2tf() -> Path:
    """The onnx2tf script: $EDGELOOP_ONNX2TF, else `onnx2tf` on PATH; one line on how to get it."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToolMissing(f"{ENV}={given} is not an executable onnx2tf script; point it at the onnx2tf in "
                              f"its environment's bin folder ({INSTALL})")
        return path
    found = shutil.which("onnx2tf")
    if found is None:
        raise ToolMissing("converting an ONNX model needs onnx2tf in its own Python environment (its TensorFlow "
                          f"pin conflicts with edgeloop's): {INSTALL}")
    return Path(found)


def _interpreter(onnx2tf: Path) -> Path:
    """The Python of onnx2tf's environment (its script's `#!` line, else the `python` beside it)."""
    try:
        first = onnx2tf.read_bytes()[:256].split(b"\n", 1)[0]
    except OSError:
        first = b""
    if first.startswith(b"#!") and b" " not in first[2:].strip():
        return Path(first[2:].strip().decode())
    return onnx2tf.parent / "python"


_INPUTS = """
import json, sys
import onnx
m = onnx.load(sys.argv[1])
init = {i.name for i in m.graph.initializer}
print(json.dumps([[i.name, [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]]
                  for i in m.graph.input if i.name not in init]))
"""

_RUN = """
import sys
import numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
x = np.load(sys.argv[2])
name = s.get_inputs()[0].name
np.save(sys.argv[3], np.concatenate([s.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))]))
"""


def _run(args: list, what: str, source: Path, verb: str = "convert") -> str:
    try:
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"{what} did not finish {source.name} in {TIMEOUT_S} s; run onnx2tf on it by hand "
                              "to see where it stops") from None
    except OSError as e:
        raise ToolMissing(f"cannot run {args[0]}: {e.strerror or e}; {INSTALL}") from None
    if done.returncode != 0:
        raise ConversionError(f"{what} could not {verb} {source.name}: {_last_error(done.stdout + done.stderr)}")
    return done.stdout


def _last_error(text: str) -> str:
    """The line that says what went wrong, out of onnx2tf's coloured log and Python tracebacks."""
    import re

    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("W0000", "I0000", "E0000", "File ", "^"))]
    for line in reversed(lines):
        if "Error" in line or "ERROR" in line:
            return line[:300]
    return (lines[-1] if lines else "no message")[:300]


def model_inputs(path: Path, onnx2tf: Path | None = None) -> list[tuple[str, list]]:
    """(name, shape) of each graph input that is not a weight; unknown dimensions are None."""
    if not path.is_file():
        raise ModelError(f"{path} does not exist; give an .onnx file")
    onnx2tf = onnx2tf or find_onnx2tf()
    out = _run([_interpreter(onnx2tf), "-c", _INPUTS, path], "onnx (in onnx2tf's environment)", path, "read")
    try:
        return [(name, shape) for name, shape in json.loads(out.strip().splitlines()[-1])]
    except (ValueError, IndexError):
        raise ModelError(f"{path} is not an ONNX model onnx can read") from None


def single_input(path: Path, onnx2tf: Path | None = None) -> tuple[str, list]:
    """(name, shape) of the model's one input; edgeloop converts single-input models only."""
    inputs = model_inputs(path, onnx2tf)
    if len(inputs) != 1:
        raise ConversionError(f"{path.name} has {len(inputs)} inputs; edgeloop converts single-input models")
    return inputs[0]


def float_tflite(path: Path) -> bytes:
    """The float32 `.tflite` onnx2tf makes of `path`, with every input's layout kept."""
    onnx2tf = find_onnx2tf()
    name, shape = single_input(path, onnx2tf)
    with tempfile.TemporaryDirectory(prefix="edgeloop-onnx2tf-") as tmp:
        args = [onnx2tf, "-i", path, "-o", tmp, "-b", "1"]
        if 3 <= len(shape) <= 5:
            args += ["-k", name]
        _run(args, "onnx2tf", path)
        made = Path(tmp) / f"{path.stem}_float32.tflite"
        if not made.is_file():
            raise ConversionError(f"onnx2tf wrote no {made.name} for {path.name}; run it by hand to see why")
        return made.read_bytes()


def convert_onnx(path: Path, calibration, progress: Callable[[int, int], None] | None = None,
                 activations: str = "int8") -> bytes:
    """Full-integer TFLite of an `.onnx`: onnx2tf's float model, calibrated as a float `.tflite`."""
    from .source import quantize_float_tflite
    from .tflite import read_tflite

    if calibration is None:
        _name, shape = single_input(path)
        dims = ", ".join("?" if d in (None, 0) else str(d) for d in shape[1:])
        raise ConversionError(f"full-integer quantization needs representative data: pass --calib data.npz (or "
                              f"a .npy) with float samples shaped (N, {dims}), in the ONNX model's own layout")
    data = float_tflite(path)
    return quantize_float_tflite(data, read_tflite(data, str(path)), calibration, str(path), progress, activations)


def float_predictor(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The ONNX model itself under onnxruntime (in onnx2tf's environment), for the accuracy report."""
    python = _interpreter(find_onnx2tf())

    def predict(x: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="edgeloop-ort-") as tmp:
            src, dst = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
            np.save(src, np.ascontiguousarray(x, np.float32))
            _run([python, "-c", _RUN, path, src, dst], "onnxruntime (in onnx2tf's environment)", path, "run")
            return np.load(dst)

    return predict
