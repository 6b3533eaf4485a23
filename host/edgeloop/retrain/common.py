"""What every retrain shares, whatever the task: the group split, the side-by-side table, the
promotion rule, the lineage.

Gesture models (retrain.py: takes + labelled field windows) and keyword models (keyword.py:
synthetic speech + the user's recordings) differ in their data and their model; the way a
candidate is judged against its parent and recorded is one piece of code, here:

- `split_groups`: hold out whole groups (a board session, a speaker), never single windows;
- `side_by_side`: parent and candidate through the same runners on the same sets, the rows
  of the table, the confusion matrices, and the reasons for refusing (the promotion rule:
  edgeloop's runtime, what the board runs, below the parent by more than the tolerance);
- `lineage`: the model.json section that says where the candidate came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable, Sequence

import numpy as np

from .. import modelinfo as MI
from ..errors import EdgeloopError

DEFAULT_TOLERANCE = 0.02


class RetrainError(EdgeloopError):
    """Retraining cannot start: no labelled windows, windows of another shape, too few sessions."""


class RetrainRefused(EdgeloopError):
    """The candidate is worse than its parent beyond the tolerance; nothing was written."""

    exit_code = 3


@dataclass
class Row:
    set: str
    runner: str
    windows: int
    parent: float | None
    candidate: float | None

    @property
    def delta(self) -> float | None:
        return None if self.parent is None or self.candidate is None else self.candidate - self.parent


@dataclass
class Outcome:
    rows: list[Row]
    promoted: bool
    forced: bool
    reasons: list[str]
    info: MI.ModelInfo
    written: bool
    confusion: dict = field(default_factory=dict)  # set -> {"parent"/"candidate": matrix}, classes in info


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def confusion(y: np.ndarray, p: np.ndarray, n: int) -> list[list[int]]:
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y, p), 1)
    return m.tolist()


def split_groups(groups: Sequence[Hashable], labels: Sequence[str], fraction: float,
                 seed: int) -> tuple[set, dict[str, list]]:
    """Hold out whole groups: each group is filed under the class most of its items carry (ties:
    the first class name in sorted order); per class, round(fraction x groups) of them -- at least
    one, never all -- are held out with a generator seeded by `seed`. Returns (held-out groups,
    class -> its groups in sorted order)."""
    members: dict = {}
    for g, lab in zip(groups, labels):
        members.setdefault(g, []).append(lab)
    by_class: dict[str, list] = {}
    for g in sorted(members):
        labs = members[g]
        by_class.setdefault(max(sorted(set(labs)), key=labs.count), []).append(g)
    rng = np.random.default_rng(seed)
    test: set = set()
    for cls in sorted(by_class):
        gs = by_class[cls]
        if len(gs) < 2:
            continue  # one group of a class: it trains
        k = min(len(gs) - 1, max(1, round(len(gs) * fraction)))
        test |= {gs[i] for i in rng.permutation(len(gs))[:k]}
    return test, by_class


Predict = Callable[[np.ndarray], dict]  # x -> {"float"/"int8"/"board": class index per item, or None}


def side_by_side(sets: Sequence[tuple[str, np.ndarray, np.ndarray]], parent: Predict, candidate: Predict,
                 runners: dict[str, str], to_new: np.ndarray, n_classes: int,
                 tolerance: float) -> tuple[list[Row], list[str], dict]:
    """Parent and candidate on every (name, x, y) set, runner by runner.

    `to_new` maps the parent's class indices to the candidate's (a candidate may have a new class).
    A runner with no prediction (None: e.g. the parent's float model, not kept) gets n/a. Promotion
    is decided on the "board" runner: a candidate below the parent by more than `tolerance` on any
    set gets a reason; no reasons, promoted."""
    rows, reasons, conf = [], [], {}
    for name, x, y in sets:
        p_pred, c_pred = parent(x), candidate(x)
        for runner in ("float", "int8", "board"):
            pa = None if p_pred[runner] is None else float((to_new[np.asarray(p_pred[runner])] == y).mean())
            ca = None if c_pred[runner] is None else float((np.asarray(c_pred[runner]) == y).mean())
            rows.append(Row(name, runners[runner], len(y), pa, ca))
            if runner == "board" and pa is not None and ca is not None and ca < pa - tolerance:
                reasons.append(f"{name}: {runners[runner]} {100 * ca:.1f} % < parent {100 * pa:.1f} % "
                               f"- tolerance {100 * tolerance:.1f} points")
        conf[name] = {"parent": confusion(y, to_new[np.asarray(p_pred["board"])], n_classes),
                      "candidate": confusion(y, np.asarray(c_pred["board"]), n_classes)}
    return rows, reasons, conf


def lineage(parent_dir: Path, parent: MI.ModelInfo, parent_model: bytes, data: list[dict], seeds: dict,
            runner_deciding: str, tolerance: float, rows: list[Row], conf: dict, reasons: list[str],
            force: bool) -> dict:
    """model.json's `lineage` section (docs/retrain.md)."""
    return {
        "parent": {"path": str(parent_dir), "model_hash": hashlib.sha256(parent_model).hexdigest()[:16],
                   "model_json_sha256": sha256_file(parent_dir / MI.FILE_NAME), "classes": parent.classes},
        "data": data,
        "seeds": seeds,
        "revalidation": {"runner_deciding": runner_deciding, "tolerance": tolerance,
                         "rows": [{"set": r.set, "runner": r.runner, "windows": r.windows,
                                   "parent": r.parent, "candidate": r.candidate} for r in rows],
                         "confusion": conf},
        "promoted": not reasons, "forced": bool(force and reasons), "refused_because": reasons,
    }


def check_tolerance(tolerance: float) -> None:
    if not 0 <= tolerance < 1:
        raise RetrainError(f"tolerance {tolerance} should be a share between 0 and 1 (0.02 = 2 points)")
