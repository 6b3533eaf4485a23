"""`edgeloop train gesture` as a library: recordings -> on-board model + model card + recipe.

Steps: load the takes (dataset.py), split whole takes per class with a fixed
seed, window them the way the board's Windower does, train (CNN or trees),
score float / int8 / on-board runtime on the held-out windows, and write
everything into a temporary folder beside --out that replaces the old files
only when all of it is written. Nothing is written when any step fails.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from .. import modelinfo as MI
from .. import trainref as TR
from . import card as C
from . import dataset as D
from .reference import build_from_files as build_reference

KINDS = ("cnn", "trees")
MODEL_FILES = {"cnn": ("gesture.elm", "gesture.tflite"), "trees": ("gesture_trees.csv",)}
ALL_OUTPUTS = ("gesture.elm", "gesture.tflite", "gesture_trees.csv", "model.json", "recipe.json", "MODEL_CARD.md",
               "training_reference.json")
MIN_CNN_WINDOW = 16  # conv 5 -> pool 2 -> conv 5 needs at least this many frames


class TrainError(D.DataError):
    """Training options that cannot work with this data."""


@dataclass
class GestureOptions:
    data: str
    out: str
    window: int = 50
    hop: int = 25
    train_hop: int | None = None  # default: hop // 5 (more shifted copies of each take for training)
    model: str = "cnn"
    epochs: int = 40
    trees: int = 10
    depth: int = 8
    seed: int = 0
    test_fraction: float = 0.25
    units: str = "auto"
    board_time: bool = True  # time the model on the virtual board for the card (when Node is there)
    command: str | None = None  # the command line as typed, for the recipe

    def resolved_train_hop(self) -> int:
        return self.train_hop or max(1, self.hop // 5)


def _check(opts: GestureOptions) -> None:
    if opts.model not in KINDS:
        raise TrainError(f"model {opts.model!r} is not supported; use cnn or trees")
    if opts.window < 2 or opts.hop < 1 or opts.resolved_train_hop() < 1:
        raise TrainError(f"window {opts.window} / hop {opts.hop}: need a window of at least 2 frames and a hop of at least 1")
    if opts.model == "cnn" and opts.window < MIN_CNN_WINDOW:
        raise TrainError(f"the CNN needs windows of at least {MIN_CNN_WINDOW} frames (got --window {opts.window}); "
                         "use a longer window or --model trees")
    if not 0 < opts.test_fraction < 1:
        raise TrainError(f"test fraction {opts.test_fraction} must be between 0 and 1")
    if opts.epochs < 1 or opts.trees < 1 or opts.depth < 1:
        raise TrainError("--epochs, --trees and --depth must be at least 1")


def _versions(kind: str) -> dict:
    names = ["numpy", "pyarrow"] + (["tensorflow-cpu", "keras", "tflite-micro"] if kind == "cnn"
                                     else ["scikit-learn", "emlearn"])
    out = {"python": platform.python_version(), "edgeloop": __version__}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def _sha256(path: Path) -> str:
    import hashlib
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def command_line(opts: GestureOptions) -> str:
    parts = ["edgeloop train gesture", f"--data {opts.data}", f"--out {opts.out}", f"--model {opts.model}",
             f"--window {opts.window}", f"--hop {opts.hop}", f"--train-hop {opts.resolved_train_hop()}",
             f"--seed {opts.seed}", f"--test-fraction {opts.test_fraction:g}"]
    parts += [f"--epochs {opts.epochs}"] if opts.model == "cnn" else [f"--trees {opts.trees}", f"--depth {opts.depth}"]
    if opts.units != "auto":
        parts.append(f"--units {opts.units}")
    return " ".join(parts)


def _scores(classes, y, predictions) -> tuple[dict, dict]:
    y = np.asarray(y)
    per_class, overall = {}, {}
    for runner, p in predictions.items():
        p = np.asarray(p)
        per_class[runner] = {c: float((p[y == i] == i).mean()) if (y == i).any() else None
                             for i, c in enumerate(classes)}
        overall[runner] = float((p == y).mean()) if len(y) else None
    return per_class, overall


def train(opts: GestureOptions, progress: Callable[[str, int, int], None] | None = None) -> MI.ModelInfo:
    """Train, score and write; returns what model.json says (where it went is `out`)."""
    _check(opts)
    started = time.time()
    ds = D.load(opts.data, units=opts.units)
    classes = ds.classes
    train_takes, test_takes = D.split(ds, test_fraction=opts.test_fraction, seed=opts.seed)
    x_tr, y_tr, _ = D.stack(train_takes, classes, opts.window, opts.resolved_train_hop())
    x_te, y_te, owner = D.stack(test_takes, classes, opts.window, opts.hop)
    for name, y in (("training", y_tr), ("held-out", y_te)):
        short = [c for i, c in enumerate(classes) if not (y == i).any()]
        if short:
            longest = max(len(t.data) for t in ds.takes if t.label == short[0])
            raise TrainError(f"class '{short[0]}' has no {name} window: its takes are at most {longest} frames, "
                             f"shorter than --window {opts.window}; use a shorter window or longer takes")
    info = MI.ModelInfo(
        task="gesture", kind=opts.model, classes=classes, window=opts.window, hop=opts.hop,
        train_hop=opts.resolved_train_hop(), rate_hz=ds.rate_hz, channels=ds.channels,
        units=ds.units, source_units=ds.source_units,
        data={"path": opts.data, "tables": [str(t) for t in ds.tables], "takes": len(ds.takes),
              "takes_per_class": ds.takes_per_class(),
              "frames": int(sum(len(t.data) for t in ds.takes))},
        split={"by": "take", "seed": opts.seed, "test_fraction": opts.test_fraction,
               "train": [t.name for t in train_takes], "test": [t.name for t in test_takes],
               "train_windows": int(len(y_tr)), "test_windows": int(len(y_te))},
        model={}, evaluation={})  # both filled in below, once measured
    fitted = fit(opts, ds.channels, len(classes), x_tr, y_tr, x_te, progress)
    info.model, files, runners, preds, identical = (fitted.model, fitted.files, fitted.runners,
                                                    fitted.predictions, fitted.identical)
    if opts.board_time:
        from .board_time import measure

        if progress:
            progress("timing on the virtual board", 0, 1)
        info.board = measure(files[info.model["file"]], opts.model, x_te[:20])
        if progress:
            progress("timing on the virtual board", 1, 1)
    per_class, overall = _scores(classes, y_te, preds)
    info.evaluation = {
        "windows": int(len(y_te)), "runners": runners, "per_class": per_class, "overall": overall,
        "windows_per_class": {c: int((y_te == i).sum()) for i, c in enumerate(classes)},
        "labels": [int(v) for v in y_te], "takes": [test_takes[i].name for i in owner], "predictions": preds,
    }
    if identical is not None:
        info.evaluation["identical_outputs"] = identical
    info.train_seconds = round(time.time() - started, 1)
    recipe = {"command": opts.command or command_line(opts), "equivalent": command_line(opts), "seed": opts.seed,
              "versions": _versions(opts.model),
              "data_sha256": {str(t): _sha256(t) for t in ds.tables}}
    info.model["training_reference"] = TR.FILE_NAME
    files[MI.FILE_NAME] = MI.dumps(info).encode()
    if progress:
        progress("training reference (drift)", 0, 1)
    files[TR.FILE_NAME] = build_reference(info, files, x_tr, x_te)
    if progress:
        progress("training reference (drift)", 1, 1)
    files["recipe.json"] = (json.dumps(recipe, indent=1) + "\n").encode()
    files["MODEL_CARD.md"] = C.gesture_card(info, recipe).encode()
    write_outputs(Path(opts.out), files)
    return info


@dataclass
class Fitted:
    """A trained gesture model: its model.json `model` section, its files, and its held-out predictions."""
    model: dict
    files: dict[str, bytes]
    runners: dict[str, str]
    predictions: dict[str, list[int]]  # runner -> class index per x_test window
    identical: int | None  # windows where the runtime's output bytes equal TFLM's (CNN only)
    result: object  # gesture_cnn.CNNResult or gesture_trees.TreesResult


def fit(opts: GestureOptions, channels: list[str], n_classes: int, x_tr, y_tr, x_te, progress=None) -> Fitted:
    """Train the recipe's model on (x_tr, y_tr) and score it float / int8 / on-board runtime on x_te."""
    identical = None
    files: dict[str, bytes] = {}
    if opts.model == "cnn":
        from ..reference.arena import smallest_arena
        from . import gesture_cnn as G

        r = G.train_and_score(x_tr, y_tr, x_te, n_classes, epochs=opts.epochs, seed=opts.seed, progress=progress)
        files["gesture.elm"] = r.converted.data
        files["gesture.tflite"] = r.tflite
        model = {"file": "gesture.elm", "reference": "gesture.tflite", "bytes": len(r.converted.data),
                 "tflite_bytes": len(r.tflite), "arena_bytes": r.converted.arena_size,
                 "tflm_arena_bytes": smallest_arena(r.tflite), "params_bytes": r.converted.params_bytes,
                 "macs": r.converted.macs, "ops": [o.name for o in r.converted.ops],
                 "input": {"dtype": "int8", "shape": [1, opts.window, len(channels)],
                           "scale": r.input_scale, "zero_point": r.input_zero_point,
                           "multiplier": r.input_multiplier, "units_per_value": 1000},
                 "parameters": int(r.keras_model.count_params()), "epochs": opts.epochs}
        identical = r.identical
    else:
        from . import gesture_trees as G

        r = G.train_and_score(x_tr, y_tr, x_te, n_trees=opts.trees, depth=opts.depth, seed=opts.seed, progress=progress)
        files["gesture_trees.csv"] = r.csv.encode()
        from ..convert.sklearn_trees import board_cost
        from edgeloop_fw import features as F

        model = {"file": "gesture_trees.csv", "bytes": len(files["gesture_trees.csv"]),
                 "trees": r.model.n_trees, "nodes": r.model.n_nodes, "leaves": r.model.n_leaves,
                 "max_depth": r.max_depth, "heap_bytes_estimate": board_cost(r.model),
                 "comparisons_max": r.model.n_trees * r.max_depth,
                 "features": F.feature_names(channels)}
    return Fitted(model, files, G.RUNNERS, r.predictions, identical, r)


def write_outputs(out: Path, files: dict[str, bytes]) -> None:
    """All files into a temp folder first; then each replaces its old copy; stale model files go."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the folder it becomes should not be
        for name, data in files.items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if not out.exists():
            os.replace(tmp, out)  # the whole folder appears at once
            return
        for name in files:
            os.replace(tmp / name, out / name)
        for stale in set(ALL_OUTPUTS) - set(files):
            (out / stale).unlink(missing_ok=True)
    except OSError as e:
        raise TrainError(f"cannot write to {out}: {e.strerror}; pass --out with a writable folder") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
