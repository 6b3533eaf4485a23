"""Whatever the user hands `edgeloop convert`, as full-integer int8 TFLite bytes.

Four inputs reach the same place: a Keras `.keras` file or SavedModel
directory (quantized by the TFLite converter with the calibration data), a
`.tflite` that is already int8 (taken as it is), a float `.tflite` with
calibration data (quantized by TFLite's own post-training calibrator, the
one the converter uses internally), a PyTorch `.pt2` (made a float
`.tflite` by litert-torch, then calibrated the same way) and an `.onnx` (made a float `.tflite`
by onnx2tf in its own environment, then calibrated the same way). A float `.tflite` without calibration
data passes through unchanged and is refused by the int8 path with an
explanation.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConversionError, ModelError
from . import keras as keras_source
from . import onnx_source, torch_source
from .tflite import read_tflite


@dataclass(frozen=True)
class Source:
    tflite: bytes
    kind: str  # "keras", "savedmodel", "tflite", "float-tflite", "torch", "onnx"
    path: Path

    def float_predictor(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The float model, when there is one to compare against (Keras/SavedModel)."""
        if self.kind in ("keras", "savedmodel"):
            return keras_source.float_predictor(self.path)
        if self.kind == "torch":
            from . import torch_source

            return torch_source.float_predictor(self.path)
        if self.kind == "onnx":
            return onnx_source.float_predictor(self.path)
        return None


SKLEARN_SUFFIXES = (".pkl", ".pickle", ".joblib")
GIVE = ("give a .keras file, a SavedModel directory (with saved_model.pb), a .tflite file, a PyTorch .pt2 file, "
        "an .onnx file or a pickled sklearn tree model")


def model_kind(path: str | os.PathLike) -> str:
    """"keras" (a .keras file or SavedModel directory), "tflite", "torch" (.pt2), "onnx" or "sklearn", from a look at
    the path alone: a wrong path is refused in a second, before TensorFlow is imported."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path} does not exist; {GIVE}")
    if path.suffix.lower() in SKLEARN_SUFFIXES and path.is_file():
        return "sklearn"
    if path.is_file() and torch_source.is_torch_source(path):
        return "torch"
    if path.is_file() and onnx_source.is_onnx_source(path):
        return "onnx"
    if keras_source.is_keras_source(path):
        if path.is_file():
            keras_source.check_keras_file(path)
        return "keras"
    if path.is_dir() or path.suffix.lower() != ".tflite":
        raise ConversionError(f"{path} is not a model edgeloop converts; {GIVE}")
    return "tflite"


def load_source(path: str | os.PathLike, calibration=None,
                progress: Callable[[int, int], None] | None = None, activations: str = "int8") -> Source:
    """`activations` ("int8" or "int16", TFLite's 16x8 mode) is what a Keras model or a float
    .tflite is quantized to; an already-quantized .tflite must already be that."""
    path = Path(path)
    kind = model_kind(path)
    if kind == "keras":
        result = keras_source.convert_keras(path, calibration, progress, activations)
        return Source(result.tflite, result.source_kind, path)
    if kind == "torch":
        return Source(convert_torch(path, calibration, progress), "torch", path)
    if kind == "onnx":
        return Source(onnx_source.convert_onnx(path, calibration, progress, activations), "onnx", path)
    if path.suffix.lower() != ".tflite":
        raise ConversionError(f"{path} is not a TensorFlow model; give a .keras file, "
                              "a SavedModel directory (with saved_model.pb) or a .tflite file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}") from None
    model = read_tflite(data, str(path))
    io_types = {model.tensors[i].dtype for i in list(model.inputs) + list(model.outputs)}
    if calibration is None or not io_types & {"float32", "float16"}:
        if activations == "int16" and io_types & {"int8"} and "int16" not in io_types:
            raise ConversionError(f"{path} is already quantized with int8 activations; --activations int16 "
                                  "quantizes a Keras model or a float .tflite (with --calib): give one of those")
        return Source(data, "tflite", path)
    return Source(quantize_float_tflite(data, model, calibration, str(path), progress, activations),
                  "float-tflite", path)


def quantize_float_tflite(data: bytes, model, calibration, source: str,
                          progress: Callable[[int, int], None] | None = None, activations: str = "int8") -> bytes:
    """Post-training full-integer quantization of a float .tflite with TFLite's calibrator
    (int8 activations, or int16 ones with int8 weights: the 16x8 mode)."""
    tf = keras_source.import_tensorflow()
    if len(model.inputs) != 1:
        raise ConversionError(f"{source} has {len(model.inputs)} inputs; edgeloop converts single-input models")
    shape = tuple(model.tensors[model.inputs[0]].shape)
    samples, _ = keras_source.representative_dataset(calibration, shape, progress)

    from tensorflow.lite.python.optimize import calibrator

    kind = tf.int16 if activations == "int16" else tf.int8

    try:
        with warnings.catch_warnings(), keras_source._quiet():
            warnings.simplefilter("ignore")
            quantized = calibrator.Calibrator(data).calibrate_and_quantize(
                samples, input_type=kind, output_type=kind, allow_float=False, activations_type=kind)
    except Exception as e:
        raise ConversionError(f"TFLite's calibrator could not quantize {source}: {keras_source._last_line(e)}") from None
    return bytes(quantized)


def convert_torch(path: Path, calibration, progress: Callable[[int, int], None] | None = None) -> bytes:
    """A `.pt2` as full-integer int8 TFLite: litert-torch's float model, calibrated as a float `.tflite`."""
    if calibration is None:
        exported = torch_source.load_exported(path)
        shape = "(N, " + ", ".join(str(d) for d in torch_source.example_input(exported).shape[1:]) + ")"
        raise ConversionError(f"full-integer int8 needs representative data: pass --calib data.npz (or .npy) with "
                              f"float samples shaped {shape}, in the PyTorch model's own layout")
    data = torch_source.float_tflite_from_file(path)
    return quantize_float_tflite(data, read_tflite(data, str(path)), calibration, str(path), progress)
