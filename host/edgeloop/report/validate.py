"""Scoring the float, TFLM and edgeloop models on labelled data, per class.

The int8 input is quantized here the way TFLite's QUANTIZE does, so TFLM and
edgeloop see the same bytes and their outputs can be compared byte for byte.
"""

from __future__ import annotations

import io
from typing import Callable

import numpy as np

from ..convert.int8 import Converted
from ..errors import ModelError
from ..reference import tflm
from .data import Accuracy


def load_validation(path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """x, integer labels, and class names (npz key 'classes', optional)."""
    from ..convert.keras import load_array

    x = load_array(path, "validation", "x")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "y" not in data:
                raise ModelError(f"validation file {path} has no 'y' array; save it with np.savez(path, x=..., y=labels)")
            y = data["y"]
            names = [str(c) for c in data["classes"]] if "classes" in data else None
    except (ValueError, OSError):
        raise ModelError(f"validation file {path} must be a .npz holding arrays x and y") from None
    if y.ndim == 2:
        y = y.argmax(axis=1)  # one-hot
    if y.ndim != 1 or len(y) != len(x):
        raise ModelError(f"validation labels y have shape {y.shape} for {len(x)} samples; give one integer label per sample")
    return x, y.astype(np.int64), names


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float → int8 the way TFLite's QUANTIZE does (round half away from zero)."""
    v = np.asarray(x, np.float64) / np.float64(np.float32(scale))
    v = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point
    return np.clip(v, -128, 127).astype(np.int8)


def validate(converted: Converted, tflite: bytes, x: np.ndarray, y: np.ndarray, *,
             float_predict: Callable[[np.ndarray], np.ndarray] | None = None,
             class_names: list[str] | None = None,
             progress: Callable[[int, int], None] | None = None) -> Accuracy:
    """Run the three models on x and score them against y, per class."""
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    ours = Interpreter(Model(io.BytesIO(converted.data)))
    t_in = ours.model.inputs[0]
    want = tuple(t_in.shape)
    if tuple(x.shape[1:]) != want[1:]:
        expected = "(N, " + ", ".join(str(d) for d in want[1:]) + ")"
        raise ModelError(f"validation x has shape {tuple(x.shape)} but the model's input is {want}; give x shaped {expected}")
    xq = x.astype(np.int8) if x.dtype == np.int8 else quantize_input(x, t_in.scale, t_in.zero_point)
    ref = tflm.optional_interpreter(tflite)
    preds = {"int8 TFLite (TFLM)": []} if ref is not None else {}
    preds["edgeloop"] = []
    same = 0
    n = len(x)
    for i in range(n):
        sample = np.ascontiguousarray(xq[i:i + 1].reshape(want))
        ours.set_input(sample.tobytes())
        ours.invoke()
        out = np.frombuffer(ours.get_output(), np.int8)
        preds["edgeloop"].append(int(out.argmax()))
        if ref is not None:
            r = tflm.invoke(ref, sample).reshape(-1)
            preds["int8 TFLite (TFLM)"].append(int(r.argmax()))
            same += int(r.tobytes() == out.tobytes())
        if progress:
            progress(i + 1, n)
    if float_predict is not None and x.dtype != np.int8:
        out = np.concatenate([np.asarray(float_predict(x[i:i + 64])).reshape(len(x[i:i + 64]), -1)
                              for i in range(0, n, 64)])
        preds = {"float (TensorFlow)": out.argmax(axis=1).tolist(), **preds}
    labels = sorted(set(y.tolist()))
    names = [class_names[c] if class_names and 0 <= c < len(class_names) else str(c) for c in labels]
    acc = Accuracy(n, names, [int((y == c).sum()) for c in labels],
                   identical_to_tflm=same if ref is not None else None)
    for runner, p in preds.items():
        p = np.asarray(p)
        acc.per_class[runner] = [float((p[y == c] == c).mean()) for c in labels]
        acc.overall[runner] = float((p == y).mean())
    return acc
