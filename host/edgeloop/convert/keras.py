"""Keras `.keras` files and SavedModel directories → full-integer int8 TFLite.

The TFLite converter does the quantization (per-channel int8 weights, int8
activations, int8 input and output); edgeloop only feeds it the user's
calibration data and pins the batch to 1. Pinning matters: with an unknown
batch, Flatten/Reshape turn into SHAPE + STRIDED_SLICE + PACK, three ops a
microcontroller runtime should not need, and Conv1D keeps an EXPAND_DIMS
that a static shape folds into a RESHAPE.

TensorFlow is imported only inside the functions that need it, so the core
install (and `edgeloop --help`) never pays for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConversionError, ModelError, ToolMissing

TF_HINT = "pip install 'edgeloop[tf]'"
# The converter walks every sample once per calibration pass; beyond a few
# hundred the ranges stop moving and the wait grows linearly.
MAX_CALIBRATION_SAMPLES = 500


@dataclass(frozen=True)
class KerasConversion:
    tflite: bytes  # full-integer int8 flatbuffer
    input_shape: tuple[int, ...]  # the float model's input, batch pinned to 1
    calibration_samples: int
    source_kind: str  # "keras" or "savedmodel"


def is_keras_source(path: str | os.PathLike) -> bool:
    """True for what this module converts: a `.keras` file or a SavedModel directory."""
    p = Path(path)
    if p.is_dir():
        return (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file()
    return p.suffix.lower() == ".keras"


def check_keras_file(path: Path) -> None:
    """Say what is wrong with a `.keras` file before TensorFlow is imported.

    Keras answers "File not found" for any `.keras` path that is not a zip
    archive (an empty file, a cut-short copy, an .h5 renamed), which sends
    users looking for a file that is right there.
    """
    import zipfile

    fix = f"save the model again with model.save('{path.name}')"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}") from None
    if not head:
        raise ModelError(f"{path} is empty (0 bytes), not a Keras model; {fix}")
    if head.startswith(b"\x89HDF"):
        raise ModelError(f"{path} is an HDF5 file (Keras's legacy .h5 format) named .keras; load it with "
                         f"keras.models.load_model on a .h5 name and {fix}")
    if not zipfile.is_zipfile(path):
        what = ("a zip archive cut short (no directory at its end: an interrupted copy or download?)"
                if head.startswith(b"PK") else "not a zip archive, which every .keras file is")
        raise ModelError(f"{path} is {what}; {fix}")
    try:
        with zipfile.ZipFile(path) as z:
            if "config.json" not in z.namelist():
                raise ModelError(f"{path} is a zip archive without config.json, so not a Keras model; {fix}")
            damaged = z.testzip()
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"{path} is a damaged zip archive ({e}); {fix}") from None
    if damaged:
        raise ModelError(f"{path} is damaged: its member {damaged} fails its checksum; {fix}")


def import_tensorflow():
    """Import TensorFlow without its start-up chatter, or say how to install it.

    TensorFlow's C++ logs at import (oneDNN, CPU features) before absl's
    logging is set up, where TF_CPP_MIN_LOG_LEVEL does not reach; so the
    process's stderr is captured for the import and given back without those
    info and warning records: an error TensorFlow prints still shows.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tempfile

    with tempfile.TemporaryFile("w+b") as captured:
        try:
            with _fds_to(captured, fds=(2,)):
                import tensorflow as tf
        except ImportError as e:
            raise ToolMissing(f"converting a Keras model needs TensorFlow, which is not installed ({e.name}): {TF_HINT}") from None
        finally:
            captured.seek(0)
            kept = drop_log_chatter(captured.read().decode("utf-8", "replace"))
            if kept:
                sys.stderr.write(kept)
    import logging

    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with contextlib.suppress(Exception):
        tf.get_logger().setLevel("ERROR")
    return tf


# A C++ log record (absl/glog): "I0000 00:00:1796528964.193948    7245 port.cc:153] ...", or TF's older
# "2025-09-17 14:44:05.157831: I tensorflow/...cc:32] ...".
_RECORD = re.compile(r"^(?:([IWEF])\d{4} [\d:.]+\s+\d+ |\d{4}-\d\d-\d\d [\d:.]+: ([IWEF]) )\S+:\d+\]")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


# What TensorFlow continues an info record with on the next line (cpu_feature_guard.cc).
_CONTINUED = ("To enable the following instructions:", " ", "\t")


def drop_log_chatter(text: str) -> str:
    """`text` without C++ info/warning records (and their indented or known continuation
    lines) or absl's pre-initialisation notice; errors, fatal records and anything else are kept."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        m = _RECORD.match(line)
        if m:
            dropping = (m.group(1) or m.group(2)) in "IW"
        elif line.rstrip("\n") == _ABSL_PREAMBLE:
            dropping = True
            continue
        elif not (dropping and line.startswith(_CONTINUED)):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


def load_array(path: str | os.PathLike, what: str, key: str = "x") -> np.ndarray:
    """Read one array from `.npy`, or from `.npz` (key `key`, or its only array)."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{what} file {p} does not exist; give a .npz or .npy file")
    try:
        data = np.load(p, allow_pickle=False)
    except Exception as e:
        raise ModelError(f"{what} file {p} is not a readable .npy/.npz file ({e})") from None
    if isinstance(data, np.ndarray):
        return data
    with data:
        keys = list(data.keys())
        if key in keys:
            return data[key]
        if len(keys) == 1:
            return data[keys[0]]
    raise ModelError(f"{what} file {p} holds arrays {keys}; name the input array '{key}'")


def check_calibration(x: np.ndarray, input_shape: tuple, source: str = "calibration data") -> np.ndarray:
    """Return float32 samples shaped (N, *input_shape[1:]), or say what shape is expected."""
    want = tuple(int(d) for d in input_shape[1:])
    expected = "(N, " + ", ".join(str(d) for d in want) + ")"
    if x.dtype.kind not in "fiub":
        raise ConversionError(f"{source} has dtype {x.dtype}; give numbers shaped {expected}")
    if tuple(x.shape) == want:
        raise ConversionError(
            f"{source} has shape {tuple(x.shape)}, one sample without the batch axis; "
            f"give an array shaped {expected} (x[None] for a single sample)")
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
        raise ConversionError(
            f"{source} has shape {tuple(x.shape)} but the model's input is "
            f"{(1,) + want}: give an array shaped {expected}")
    if len(x) == 0:
        raise ConversionError(f"{source} is empty; give at least one sample shaped {expected}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ConversionError(f"{source} contains NaN or infinity; the converter needs finite samples")
    return x


def _load(tf, path: Path):
    """The model and its batch-1 input shape, as something the converter takes."""
    if path.is_dir():
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as e:
            raise ConversionError(f"{path} is not a loadable SavedModel ({_last_line(e)})") from None
        sig = loaded.signatures.get("serving_default")
        if sig is None:
            raise ConversionError(f"SavedModel {path} has no 'serving_default' signature; export it with model.export()")
        _, spec = sig.structured_input_signature
        if len(spec) != 1:
            raise ConversionError(f"SavedModel {path} has {len(spec)} inputs {sorted(spec)}; edgeloop converts single-input models")
        (name, ts), = spec.items()
        shape = (1,) + tuple(ts.shape[1:])
        if any(d is None for d in shape):
            raise ConversionError(f"SavedModel {path} input '{name}' has unknown dimensions {tuple(ts.shape)}; export it with a fixed input shape")
        return "savedmodel", loaded, sig, name, shape
    import keras

    try:
        model = keras.models.load_model(str(path), compile=False)
    except Exception as e:
        raise ConversionError(f"{path} is not a loadable Keras model ({_last_line(e)})") from None
    if len(model.inputs) != 1:
        raise ConversionError(f"Keras model {path} has {len(model.inputs)} inputs; edgeloop converts single-input models")
    shape = (1,) + tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ConversionError(f"Keras model {path} has unknown input dimensions {tuple(model.inputs[0].shape)}; give keras.Input a full shape")
    return "keras", model, None, None, shape


RECURRENT = ("LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
LSTM_HINT = ("build it with tf_keras (Keras 2), convert it to full int8 with tf.lite.TFLiteConverter."
             "from_keras_model and give edgeloop the .tflite (docs/runtime-kernels.md, LSTM)")


def _refuse_loops(kind, obj, sig, path):
    """Keras 3 lowers recurrent layers (and a SavedModel keeps them) as a WHILE loop, and
    TFLite's int8 calibrator crashes the whole process on it: refuse before converting."""
    if kind == "keras":
        for layer in obj._flatten_layers(include_self=False):
            if type(layer).__name__ in RECURRENT:
                raise ConversionError(f"{path}: layer '{layer.name}' ({type(layer).__name__}) becomes a loop that "
                                      f"TFLite's int8 calibrator cannot run; {LSTM_HINT}")
        return
    kinds = {op.type for op in sig.graph.get_operations()}
    for f in sig.graph.as_graph_def().library.function:
        kinds |= {n.op for n in f.node_def}
    if kinds & {"While", "StatelessWhile"}:
        raise ConversionError(f"SavedModel {path} has a loop (a recurrent layer?) that TFLite's int8 calibrator "
                              f"cannot run; {LSTM_HINT}")


def _batch1_converter(tf, kind, obj, sig, name, shape):
    if kind == "keras":
        import keras

        if obj.inputs[0].shape[0] == 1:
            return tf.lite.TFLiteConverter.from_keras_model(obj)
        inp = keras.Input(batch_shape=shape, dtype=obj.inputs[0].dtype)
        return tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, obj(inp)))
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: sig(**{name: x}))
    concrete = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([convert_variables_to_constants_v2(concrete)], obj)


def keras_input_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The batch-1 input shape, for messages that say what data to give."""
    tf = import_tensorflow()
    return _load(tf, Path(path))[4]


def representative_dataset(calibration, shape, progress: Callable[[int, int], None] | None = None):
    """The calibration samples (an array or a .npz/.npy path), checked against the input shape,
    as the one-sample generator both TFLite quantizers take, and how many samples it yields."""
    source = "calibration data"
    if not isinstance(calibration, np.ndarray):
        source = f"calibration data {calibration}"
        calibration = load_array(calibration, "calibration")
    x = check_calibration(calibration, shape, source)[:MAX_CALIBRATION_SAMPLES]

    def representative():
        for i in range(len(x)):
            if progress:
                progress(i, len(x))
            yield [x[i:i + 1]]
        if progress:
            progress(len(x), len(x))

    return representative, len(x)


ACTIVATIONS = ("int8", "int16")  # int16: TFLite's 16x8 mode (int16 activations, int8 weights)


def convert_keras(path: str | os.PathLike, calibration: np.ndarray | str | os.PathLike | None,
                  progress: Callable[[int, int], None] | None = None,
                  activations: str = "int8") -> KerasConversion:
    """Quantize a Keras/SavedModel model to full-integer int8 TFLite (`activations="int16"`:
    the converter's 16x8 mode, int16 activations and input/output, int8 weights, int64 bias).

    `calibration` is an array or a .npz/.npy path holding samples shaped like
    the model's input (any leading count). `progress(done, total)` is called
    as the converter consumes calibration samples.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path} does not exist; give a .keras file, a SavedModel directory or a .tflite file")
    if not is_keras_source(path):
        raise ConversionError(f"{path} is neither a .keras file nor a SavedModel directory (one with saved_model.pb)")
    if path.is_file():
        check_keras_file(path)
    tf = import_tensorflow()
    kind, obj, sig, name, shape = _load(tf, path)
    expected = "(N, " + ", ".join(str(d) for d in shape[1:]) + ")"
    if calibration is None:
        raise ConversionError(
            f"full-integer int8 needs representative data: pass --calib data.npz (or .npy) "
            f"with float samples shaped {expected}, as the model sees them in use")
    _refuse_loops(kind, obj, sig, path)
    representative, n_samples = representative_dataset(calibration, shape, progress)
    converter = _batch1_converter(tf, kind, obj, sig, name, shape)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    if activations == "int16":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int16
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")
            tflite = converter.convert()
    except Exception as e:
        raise ConversionError(f"the TFLite converter refused {path}: {_last_line(e)}") from None
    return KerasConversion(bytes(tflite), shape, n_samples, kind)


def float_predictor(path: str | os.PathLike) -> Callable[[np.ndarray], np.ndarray]:
    """A function running the float model on a batch, for the accuracy report."""
    tf = import_tensorflow()
    kind, obj, sig, name, shape = _load(tf, Path(path))

    def predict(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if kind == "keras":
            return np.asarray(obj(x, training=False))
        out = sig(**{name: tf.constant(x)})
        return np.asarray(next(iter(out.values())))

    return predict


@contextlib.contextmanager
def _quiet():
    """Silence what Keras and the converter's C++ print on stdout/stderr
    ("Saved artifact at ...", "fully_quantize: 0, ..."): the CLI shows a
    progress bar, and failures come back in the exception anyway."""
    with open(os.devnull, "w") as devnull, _fds_to(devnull), contextlib.redirect_stdout(devnull):
        yield


@contextlib.contextmanager
def _fds_to(file, fds=(1, 2)):
    """Point the process's own stdout/stderr (`fds`) at `file` for the block: C++ code writes
    to the descriptors, not to sys.stdout/sys.stderr."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = []
    try:
        for fd in fds:
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(file.fileno(), fd)
            except OSError:
                pass
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


def _last_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(e).__name__
