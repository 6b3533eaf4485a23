"""The gesture tree ensemble: int16 window features -> a random forest -> emlearn's CSV.

Features come from edgeloop_fw.features.window_features, the code the board
runs on each window. The forest is scored three ways on the held-out windows:
sklearn (the float reference), emlearn's C through its Python module (what
emlearn-micropython's native module computes) and edgeloop's pure-Python
evaluator (edgeloop_fw.trees, what a board without the native module runs).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from edgeloop_fw import features as F
from edgeloop_fw import trees as board_trees

RUNNERS = {"float": "sklearn (float thresholds)", "int8": "emlearn C (int16)", "board": "edgeloop evaluator"}


@dataclass
class TreesResult:
    estimator: object
    model: object  # edgeloop.convert.sklearn_trees.TreeModel
    csv: str
    predictions: dict  # runner -> list[int]
    max_depth: int  # deepest path: comparisons per tree at most


def window_features(x: np.ndarray) -> np.ndarray:
    """(n, window, channels) int16 -> (n, features) int16, by the board's code."""
    ch = x.shape[2]
    out = np.empty((len(x), F.n_window_features(ch)), dtype=np.int16)
    buf = array("h", bytes(2 * out.shape[1]))
    for i, w in enumerate(x):
        F.window_features(array("h", w.reshape(-1).tobytes()), ch, buf)
        out[i] = buf
    return out


def train_and_score(x_train, y_train, x_test, *, n_trees: int, depth: int, seed: int,
                    progress=None) -> TreesResult:
    from sklearn.ensemble import RandomForestClassifier

    from ..convert.sklearn_trees import convert_estimator

    if progress:
        progress("training the trees", 0, 1)
    f_train, f_test = window_features(x_train), window_features(x_test)
    est = RandomForestClassifier(n_estimators=n_trees, max_depth=depth, random_state=seed, n_jobs=1)
    est.fit(f_train, y_train)
    model = convert_estimator(est)
    csv = model.csv()
    evaluator = board_trees.parse(csv.splitlines())
    preds = {
        "float": [int(v) for v in est.predict(f_test)],
        "int8": [int(v) for v in model.wrapper.predict(f_test)] if len(f_test) else [],
        "board": [evaluator.predict([int(v) for v in row]) for row in f_test],
    }
    if progress:
        progress("training the trees", 1, 1)
    return TreesResult(est, model, csv, preds, max(e.get_depth() for e in est.estimators_))
