"""The gesture CNN: a small Keras 1D CNN, quantized to int8 and scored three ways.

The float model reads the window in board units / 1000 (g for acceleration),
the same numbers the board's int8 input stands for. The int8 model is made by
the project's converter (edgeloop.convert.keras: TFLite's own quantizer), then
turned into edgeloop's model file. All three -- float Keras, int8 under TFLM
(the reference) and int8 under edgeloop's runtime -- are scored on the same
held-out windows, whose int8 bytes come from edgeloop_fw.features exactly as
the board computes them.
"""

from __future__ import annotations

import io
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgeloop_fw import features as F

from ..reference import tflm

RUNNERS = {"float": "float (Keras)", "int8": "int8 TFLite (TFLM)", "board": "edgeloop runtime"}


@dataclass
class CNNResult:
    keras_model: object
    tflite: bytes
    converted: object  # edgeloop.convert.int8.Converted
    input_scale: float
    input_zero_point: int
    input_multiplier: int
    outputs: dict  # runner -> int8 outputs (n, classes) for "int8"/"board", float scores for "float"
    predictions: dict  # runner -> list[int]
    identical: int  # windows whose edgeloop output bytes equal TFLM's


def build(window: int, channels: int, n_classes: int):
    import keras

    inp = keras.Input((window, channels))
    x = keras.layers.Conv1D(8, 5, activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling1D(2, name="pool1")(x)
    x = keras.layers.Conv1D(16, 5, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inp, out, name="gesture_cnn")


def as_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(F.UNITS_PER_INPUT)


def int8_inputs(x: np.ndarray, mul: int, zero_point: int) -> np.ndarray:
    """The board's int8 input for every window, computed by the board's own code."""
    n = x.shape[1] * x.shape[2]
    out = np.empty((len(x), n), dtype=np.int8)
    buf = bytearray(n)
    for i, w in enumerate(x):
        F.quantize_window(array("h", w.reshape(-1).tobytes()), buf, mul, zero_point)
        out[i] = np.frombuffer(buf, dtype=np.int8)
    return out.reshape(x.shape)


def fit(x_train: np.ndarray, y_train: np.ndarray, n_classes: int, *, epochs: int, seed: int,
        on_epoch: Callable[[int, int], None] | None = None):
    import os

    from ..convert.keras import import_tensorflow

    # Level 3 also hides the C++ "NodeDef mentions attribute ..." line model.fit prints on every run.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    try:
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
    except Exception:  # older TF: determinism then rests on the seed alone
        pass
    model = build(x_train.shape[1], x_train.shape[2], n_classes)
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = []
    if on_epoch:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: on_epoch(e + 1, epochs)))
    model.fit(as_float(x_train), y_train, epochs=epochs, batch_size=32, shuffle=True, verbose=0,
              callbacks=callbacks)
    return model


def quantize(model, x_calib: np.ndarray) -> tuple[bytes, object]:
    """Keras -> int8 .tflite (TFLite's quantizer) -> edgeloop's model file, via the project's converter."""
    from ..convert.int8 import convert_tflite_bytes
    from ..convert.keras import convert_keras

    with tempfile.TemporaryDirectory(prefix="edgeloop-gesture-") as tmp:
        path = Path(tmp) / "gesture.keras"
        model.save(path)
        tflite = convert_keras(path, as_float(x_calib)).tflite
    return tflite, convert_tflite_bytes(tflite, "gesture.tflite")


def run_int8(tflite: bytes, model_file: bytes, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of TFLM and of edgeloop's runtime (CPython) for every int8 window."""
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    ref = tflm.interpreter(tflite, "scoring the int8 model")
    ours = Interpreter(Model(io.BytesIO(model_file)))
    shape = (1,) + xq.shape[1:]
    tflm_out, our_out = [], []
    for w in xq:
        sample = np.ascontiguousarray(w.reshape(shape))
        tflm_out.append(tflm.invoke(ref, sample).reshape(-1).astype(np.int8))
        ours.set_input(sample.tobytes())
        ours.invoke()
        our_out.append(np.frombuffer(ours.get_output(), dtype=np.int8))
    return np.array(tflm_out), np.array(our_out)


def train_and_score(x_train, y_train, x_test, n_classes, *, epochs, seed, progress=None) -> CNNResult:
    def step(what, done, total):
        if progress:
            progress(what, done, total)

    model = fit(x_train, y_train, n_classes, epochs=epochs, seed=seed,
                on_epoch=lambda e, n: step("training the CNN", e, n))
    step("quantizing to int8", 0, 1)
    tflite, converted = quantize(model, x_train)
    step("quantizing to int8", 1, 1)
    from edgeloop_fw.runtime.loader import Model

    t_in = Model(io.BytesIO(converted.data)).inputs[0]  # what the board reads: the file's float32 scale
    scale, zp = float(t_in.scale), int(t_in.zero_point)
    mul = F.input_multiplier(scale)
    step("scoring float / TFLM / edgeloop", 0, 1)
    float_out = np.asarray(model(as_float(x_test), training=False)) if len(x_test) else np.zeros((0, n_classes))
    xq = int8_inputs(x_test, mul, zp)
    tflm_out, our_out = run_int8(tflite, converted.data, xq)
    step("scoring float / TFLM / edgeloop", 1, 1)
    outputs = {"float": float_out, "int8": tflm_out, "board": our_out}
    preds = {k: [int(v) for v in np.argmax(o, axis=1)] for k, o in outputs.items()}
    identical = int(sum(a.tobytes() == b.tobytes() for a, b in zip(tflm_out, our_out)))
    return CNNResult(model, tflite, converted, scale, zp, mul, outputs, preds, identical)
