"""The training reference of a gesture model (edgeloop.trainref is its file format).

Feature distributions come from the training windows through the board's own
per-window statistics (edgeloop_fw.features.window_features, the trees'
features), whatever the model kind: they are the same numbers the drift check
computes from logged windows. The confidence histogram is the top score on the
held-out windows under edgeloop's runtime (run/predict.py, the board's code),
which is what a board logs as `confidence`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgeloop_fw import features as F

from .. import modelinfo as MI
from .. import trainref as R
from . import dataset as D


def window_features(x: np.ndarray) -> np.ndarray:
    from .gesture_trees import window_features as wf

    return wf(np.asarray(x, np.int16)) if len(x) else np.zeros((0, F.n_window_features(x.shape[2])), np.int16)


def top_scores(folder: Path, x: np.ndarray) -> np.ndarray:
    """The board runtime's top score per window for the model in `folder`."""
    from ..run.predict import open_target, run

    if not len(x):
        return np.zeros(0)
    return run(open_target(folder), x).scores.max(axis=1)


def build(info: MI.ModelInfo, folder: Path, x_train: np.ndarray, x_test: np.ndarray) -> dict:
    return R.make(F.feature_names(info.channels), window_features(x_train), window_features(x_test),
                  top_scores(folder, x_test),
                  source=f"edgeloop_fw.features.window_features of {len(x_train)} training windows "
                         f"(window {info.window}, hop {info.train_hop or info.hop}), board units")


def build_from_files(info: MI.ModelInfo, files: dict[str, bytes], x_train, x_test) -> bytes:
    """The reference for a model not yet written (training): scored from a scratch copy of its files."""
    with tempfile.TemporaryDirectory(prefix="edgeloop-ref-") as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        return R.dumps(build(info, Path(tmp), x_train, x_test)).encode()


def resolve_data(folder: Path, recorded: str) -> Path:
    """The training data model.json names: as written (relative to where training ran), or relative to
    the checkout holding the model folder."""
    p = Path(recorded)
    for cand in (p, Path(folder).resolve().parent.parent / p):
        if cand.exists():
            return cand
    raise D.DataError(f"the training data {recorded} that {folder}/model.json names is not here; "
                      "run from the folder training ran in, or retrain")


def split_of(folder: Path, info: MI.ModelInfo):
    """The model's own training and held-out takes, reloaded from the data its model.json names."""
    if info.task != "gesture" or not info.data or not info.split:
        raise D.DataError(f"{folder} is not a gesture model with its data and split in model.json")
    units = (info.source_units or ["auto"])[0]
    ds = D.load(resolve_data(folder, info.data["path"]), units=units if units in ("g", "mg") else "auto")
    by = {t.name: t for t in ds.takes}
    missing = [n for n in info.split["train"] + info.split["test"] if n not in by]
    if missing:
        raise D.DataError(f"take {missing[0]} of {folder}'s split is not in {info.data['path']} any more; "
                          "the data changed since training: retrain")
    return ds, [by[n] for n in info.split["train"]], [by[n] for n in info.split["test"]]


def for_folder(folder: str | Path) -> dict:
    """Rebuild the reference of a trained model folder from the data and split its model.json records."""
    folder = Path(folder)
    info = MI.load(folder, "gesture")
    _, train, test = split_of(folder, info)
    x_tr, _, _ = D.stack(train, info.classes, info.window, info.train_hop or info.hop)
    x_te, _, _ = D.stack(test, info.classes, info.window, info.hop)
    return build(info, folder, x_tr, x_te)
