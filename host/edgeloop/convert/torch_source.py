"""PyTorch models (a `.pt2` file or a `torch.nn.Module`) → float TFLite, through LiteRT's converter.

litert-torch (Google's PyTorch → LiteRT converter, formerly ai-edge-torch) exports the module
with `torch.export` and writes a float `.tflite` that keeps the module's own input layout
(NCHW stays NCHW; the converter adds the TRANSPOSE/RESHAPE ops that make it so). Full-int8
quantization then happens exactly as for a float `.tflite` (source.quantize_float_tflite:
TFLite's own calibrator, the one the Keras path's converter runs), so a PyTorch model gets
the same per-channel int8 weights, the same calibration rules and the same report.

litert-torch also has its own PT2E int8 quantizer, but it writes models with ops TFLM does
not run (weight-only, dynamic-range); calibrating the float model keeps one quantizer for
every source.

torch and litert-torch are imported only here, and only when a PyTorch model is converted
(`pip install 'edgeloop[torch]'`): the core install never pays for them.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConversionError, ModelError, ToolMissing
from .keras import _last_line

TORCH_HINT = "pip install 'edgeloop[torch]'"
SUFFIXES = (".pt2",)


def is_torch_source(path: str | os.PathLike) -> bool:
    """A `.pt2` file: what `torch.export.save` writes (a zip archive)."""
    return Path(path).suffix.lower() in SUFFIXES


def import_torch():
    """torch and litert_torch, or one line saying how to install them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import torch
        import litert_torch
    except ImportError as e:
        raise ToolMissing(f"converting a PyTorch model needs torch and litert-torch, which are not installed "
                          f"({e.name}): {TORCH_HINT}") from None
    return torch, litert_torch


def load_exported(path: str | os.PathLike):
    """The ExportedProgram in a `.pt2` file, with a one-line reason when it is not one."""
    import zipfile

    path = Path(path)
    fix = "save it with torch.export.save(torch.export.export(model.eval(), (example_input,)), path)"
    if not path.is_file():
        raise ModelError(f"{path} does not exist; give a .pt2 file ({fix})")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path} is not a .pt2 archive (a zip file); {fix}")
    torch, _ = import_torch()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.load(str(path))
    except Exception as e:
        raise ModelError(f"torch.export.load could not read {path}: {_last_line(e)}; {fix}") from None


def example_input(exported) -> np.ndarray:
    """The exported program's one example input (its shape is the model's input shape)."""
    args, kwargs = exported.example_inputs or ((), {})
    if kwargs or len(args) != 1:
        raise ConversionError(f"the model takes {len(args)} positional and {len(kwargs)} keyword inputs; "
                              "edgeloop converts single-input models")
    return args[0].detach().cpu().numpy()


def float_tflite_from_module(module, sample: np.ndarray, source: str = "the module") -> bytes:
    """A float `.tflite` of `module` (already in eval mode; an exported program's module refuses
    `eval()`), traced with `sample` (one batch, the model's input shape)."""
    torch, litert_torch = import_torch()
    x = torch.from_numpy(np.ascontiguousarray(sample, np.float32))
    try:
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")
            edge = litert_torch.convert(module, (x,))
            return bytes(edge.model_content())
    except Exception as e:
        raise ConversionError(f"litert-torch could not convert {source}: {_last_line(e)}") from None


def float_tflite_from_file(path: str | os.PathLike) -> bytes:
    exported = load_exported(path)
    return float_tflite_from_module(exported.module(), example_input(exported), str(path))


def convert_module(module, sample: np.ndarray, calibration: np.ndarray | str | os.PathLike,
                   progress: Callable[[int, int], None] | None = None) -> bytes:
    """Full-integer int8 TFLite of a `torch.nn.Module`, for code that trains in PyTorch and
    converts in the same process: `edgeloop.convert.int8.convert_tflite_bytes` takes it on."""
    from .source import quantize_float_tflite
    from .tflite import read_tflite

    data = float_tflite_from_module(module.eval(), sample)  # eval: dropout and batch-norm as in use
    return quantize_float_tflite(data, read_tflite(data, "the module"), calibration, "the module", progress)


def float_predictor(path: str | os.PathLike) -> Callable[[np.ndarray], np.ndarray]:
    """The float PyTorch model on a batch, for the accuracy report."""
    torch, _ = import_torch()
    module = load_exported(path).module()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            rows = [module(torch.from_numpy(np.ascontiguousarray(x[i:i + 1], np.float32))) for i in range(len(x))]
        return np.concatenate([r.detach().cpu().numpy() for r in rows])

    return predict


@contextlib.contextmanager
def _quiet():
    """litert-torch's converter prints progress lines and C++ log records on the process's
    descriptors; the CLI shows its own progress, and failures come back in the exception."""
    from .keras import _quiet as quiet

    with quiet():
        yield
