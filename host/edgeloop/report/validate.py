"""Scoring the float, TFLM and edgeloop models (or sklearn's trees and the board's) on labelled data, per class.

The int8 input is quantized here the way TFLite's QUANTIZE does, so TFLM and
edgeloop see the same bytes and their outputs can be compared byte for byte.
Trees are scored by sklearn and by the board's own evaluator on the board's
int16 features; sklearn's trees voting on the unrounded data say what the
rounding alone changed.
"""

from __future__ import annotations

import io
import warnings
from typing import Callable

import numpy as np

from ..convert.int8 import Converted
from ..errors import ModelError
from ..reference import tflm
from .data import Accuracy
from .text import listed


def load_validation(path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """x, integer class indices, and class names (npz key 'classes', optional)."""
    x, y, names = load_labelled(path)
    if y.ndim == 2:
        y = y.argmax(axis=1)  # one-hot
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all()):
        shown = ", ".join(str(v) for v in y[:3])
        raise ModelError(f"validation labels y in {path} are not class indices ({shown}, ...): --validate scores "
                         "a classifier's classes, so it cannot check a regression model; drop --validate")
    return x, y.astype(np.int64), names


def load_labelled(path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """x, the labels y as stored (one per sample, or one-hot rows), and class names (npz key 'classes', optional)."""
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
    if y.ndim not in (1, 2) or len(y) != len(x):
        raise ModelError(f"validation labels y have shape {y.shape} for {len(x)} samples; give one integer label per sample")
    return x, y, names


def quantize_input(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """Float → int8 (or int16, in 16x8 mode) the way TFLite's QUANTIZE does (round half away from zero)."""
    v = np.asarray(x, np.float64) / np.float64(np.float32(scale))
    v = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point
    info = np.iinfo(dtype)
    return np.clip(v, info.min, info.max).astype(dtype)


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
    n_out = int(np.prod(ours.model.outputs[0].shape))
    if n_out < 2:
        raise ModelError(f"the model has {n_out} output value, not one score per class (a regression model?): "
                         "--validate scores a classifier's classes; drop --validate")
    from edgeloop_fw.runtime import format as F

    in_type = np.int16 if t_in.dtype == F.DTYPE_INT16 else np.int8
    out_type = np.int16 if ours.model.outputs[0].dtype == F.DTYPE_INT16 else np.int8
    quantized = x.dtype == in_type  # already the model's integers (an int8 set for an int8 model)
    xq = x if quantized else quantize_input(x, t_in.scale, t_in.zero_point, in_type)
    ref = tflm.optional_interpreter(tflite)
    tflm_name = "int8 TFLite (TFLM)" if in_type is np.int8 else "16x8 TFLite (TFLM)"
    preds = {tflm_name: []} if ref is not None else {}
    preds["edgeloop"] = []
    same = 0
    n = len(x)
    for i in range(n):
        sample = np.ascontiguousarray(xq[i:i + 1].reshape(want))
        ours.set_input(sample.tobytes())
        ours.invoke()
        out = np.frombuffer(ours.get_output(), out_type)
        preds["edgeloop"].append(int(out.argmax()))
        if ref is not None:
            r = tflm.invoke(ref, sample).reshape(-1)
            preds[tflm_name].append(int(r.argmax()))
            same += int(r.tobytes() == out.tobytes())
        if progress:
            progress(i + 1, n)
    if float_predict is not None and not quantized:
        out = np.concatenate([np.asarray(float_predict(x[i:i + 64])).reshape(len(x[i:i + 64]), -1)
                              for i in range(0, n, 64)])
        preds = {"float (TensorFlow)": out.argmax(axis=1).tolist(), **preds}
    return score(preds, y, class_names, identical_to_tflm=same if ref is not None else None)


def score(preds: dict, y: np.ndarray, class_names: list[str] | None = None, *,
          identical_to_tflm: int | None = None) -> Accuracy:
    """Each runner's predictions (same labels as y) scored per class present in y, and overall."""
    labels = sorted(set(y.tolist()))
    names = [class_names[c] if class_names and isinstance(c, int) and 0 <= c < len(class_names) else str(c)
             for c in labels]
    acc = Accuracy(len(y), names, [int((y == c).sum()) for c in labels], identical_to_tflm=identical_to_tflm)
    for runner, p in preds.items():
        p = np.asarray(p)
        acc.per_class[runner] = [float((p[y == c] == c).mean()) for c in labels]
        acc.overall[runner] = float((p == y).mean())
    return acc


def validate_trees(estimator, model, x: np.ndarray, y: np.ndarray, source: str, *,
                   class_names: list[str] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> tuple[Accuracy, list[str]]:
    """sklearn vs the board's evaluator (edgeloop_fw.trees) on x, per class, and notes.

    The board compares int16 features, so it gets x rounded to integers. When
    that rounding, or thresholds trained on fractional features, changes any
    prediction of sklearn's own trees (voting as the board votes), the
    conversion is refused: the board would not run the model that was trained.
    """
    from edgeloop_fw import trees as board_trees

    from ..convert.sklearn_trees import trees_of

    if x.ndim != 2 or x.shape[1] != model.n_features:
        raise ModelError(f"validation x has shape {tuple(x.shape)} but the {model.kind} takes "
                         f"{model.n_features} features; give x shaped (N, {model.n_features})")
    if y.ndim != 1:
        raise ModelError(f"validation labels y have shape {y.shape}; give one class label per sample for trees")
    classes = np.asarray(estimator.classes_)
    unknown = [v for v in dict.fromkeys(y.tolist()) if v not in set(classes.tolist())]
    if unknown:
        raise ModelError(f"validation labels y hold {', '.join(map(str, unknown[:3]))}, not among the {model.kind}'s "
                         f"classes {classes.tolist()[:10]}: give the labels it was trained with (a classifier only)")
    if not np.isfinite(x).all():
        raise ModelError(f"validation x in {source} contains NaN or infinity; the board compares int16 features")
    x_board = np.clip(np.rint(x), -32768, 32767).astype(np.int64)
    evaluator = board_trees.parse(model.csv().splitlines())
    ours = np.empty(len(x), np.int64)
    for i, row in enumerate(x_board.tolist()):
        ours[i] = evaluator.predict(row)
        if progress:
            progress(i + 1, len(x))
    x32 = np.ascontiguousarray(x, np.float32)
    votes = np.zeros((len(x), len(classes)), np.int64)
    for tree in trees_of(estimator):
        np.add.at(votes, (np.arange(len(x)), tree.value[tree.apply(x32), 0].argmax(axis=1)), 1)
    changed = int((votes.argmax(axis=1) != ours).sum())
    fractional_x = not np.array_equal(x_board, x)
    causes = [f"{model.rounded} thresholds on features {listed(model.rounded_features)} lie between integers"
              ] if model.rounded else []
    causes += ["x has fractional values, rounded to integers"] if fractional_x else []
    if changed:
        causes = causes or ["the board's evaluator disagrees with sklearn's own trees"]
        raise ModelError(f"rounding to the board's int16 features changes {changed} of {len(x)} predictions on "
                         f"{source} ({'; '.join(causes)}): scale the features to integers (e.g. x * 100) and retrain")
    notes = [f"{' and '.join(causes)}; no prediction on {source} changed"] if causes else []
    with warnings.catch_warnings():  # "X does not have valid feature names" when fitted on a DataFrame
        warnings.simplefilter("ignore")
        sk = estimator.predict(x)
    acc = score({"scikit-learn": sk, "edgeloop": classes[ours]}, y, class_names)
    return acc, notes
