"""`edgeloop retrain`: the parent's data plus labelled field windows -> a candidate, re-validated side by side.

Steps:
1. The parent's recipe (recipe.json's equivalent command, model.json's
   window, hop, split) and its own training and held-out takes, reloaded from
   the data its model.json names (train/reference.py).
2. The labelled windows from the log (edgeloop.log.labels), split by session
   -- never by window: per class, a share of the sessions whose windows are
   mostly that class is held out, with a seeded generator.
3. The candidate is trained with the same recipe code (train.gesture.fit) on
   the parent's training windows plus the field training windows.
4. Parent and candidate are scored on the parent's held-out takes and on the
   held-out field sessions, float / int8 (TFLM for CNNs, emlearn's C for
   trees) / edgeloop's runtime. The parent's float model is not kept by
   training, so its float column is n/a.
5. Promotion is decided on edgeloop's runtime (what the board runs): the
   candidate is refused when its accuracy on either set is below the
   parent's by more than the tolerance. Refused, nothing is written (exit
   code 3 in the CLI); with `force` it is written and its lineage says it was
   forced and why it would have been refused.
The new model.json records the lineage: parent model hash, hashes of every
data set (the take tables' files; the field windows' content: ids, labels and
window bytes), seeds, the re-validation table, forced or not.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import modelinfo as MI
from .. import trainref as TR
from ..errors import EdgeloopError
from ..log.labels import Window, load_windows
from ..train import card as C
from ..train import dataset as D
from ..train import gesture as G
from ..train.reference import build_from_files, split_of, window_features

DEFAULT_TOLERANCE = 0.02
SETS = ("parent held-out takes", "held-out field sessions")


class RetrainError(EdgeloopError):
    """Retraining cannot start: no labelled windows, windows of another shape, too few sessions."""


class RetrainRefused(EdgeloopError):
    """The candidate is worse than its parent beyond the tolerance; nothing was written."""

    exit_code = 3


@dataclass
class RetrainOptions:
    parent: str
    db: str
    out: str
    tolerance: float = DEFAULT_TOLERANCE
    field_test_fraction: float = 0.3
    seed: int | None = None  # default: the parent's
    epochs: int | None = None  # default: the parent's
    force: bool = False


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


def recipe_options(folder: Path, info: MI.ModelInfo) -> G.GestureOptions:
    """The parent's training options, from recipe.json's equivalent command line."""
    try:
        recipe = json.loads((folder / "recipe.json").read_text())
        words = shlex.split(recipe["equivalent"])
    except (OSError, ValueError, KeyError) as e:
        raise RetrainError(f"{folder}/recipe.json is missing or unreadable ({e}); retrain needs the parent's "
                           "recipe: train it with `edgeloop train gesture`") from None
    args = {words[i][2:].replace("-", "_"): words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
    return G.GestureOptions(data=info.data["path"], out="", window=info.window, hop=info.hop,
                            train_hop=info.train_hop, model=info.kind, epochs=int(args.get("epochs", 40)),
                            trees=int(args.get("trees", 10)), depth=int(args.get("depth", 8)),
                            seed=int(args.get("seed", 0)), test_fraction=float(args.get("test_fraction", 0.25)),
                            units=args.get("units", "auto"), board_time=False)


def split_sessions(windows: list[Window], fraction: float, seed: int) -> tuple[list[Window], list[Window], dict]:
    """Hold out whole sessions: per class, a share of the sessions whose windows are mostly that class."""
    sessions: dict[int, list[Window]] = {}
    for w in windows:
        sessions.setdefault(w.session_id or 0, []).append(w)
    by_class: dict[str, list[int]] = {}
    for sid, ws in sorted(sessions.items()):
        labels = [w.label for w in ws]
        by_class.setdefault(max(sorted(set(labels)), key=labels.count), []).append(sid)
    rng = np.random.default_rng(seed)
    test: set[int] = set()
    for cls in sorted(by_class):
        sids = by_class[cls]
        if len(sids) < 2:
            continue  # one session of a class: it trains
        k = min(len(sids) - 1, max(1, round(len(sids) * fraction)))
        test |= {sids[i] for i in rng.permutation(len(sids))[:k]}
    train = [w for w in windows if (w.session_id or 0) not in test]
    held = [w for w in windows if (w.session_id or 0) in test]
    return train, held, {"train": sorted(set(sessions) - test), "test": sorted(test), "seed": seed,
                         "fraction": fraction}


def field_hash(windows: list[Window]) -> str:
    h = hashlib.sha256()
    for w in sorted(windows, key=lambda w: w.id):
        h.update(f"{w.id}\t{w.label}\n".encode())
        h.update(w.raw.astype("<i2").tobytes())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def predict_all(kind: str, files: dict[str, bytes], x: np.ndarray, result=None) -> dict[str, np.ndarray | None]:
    """Class index per window for each runner: float (only with the trained `result`), int8, board."""
    if not len(x):
        return {"float": None, "int8": None, "board": None}
    if kind == "cnn":
        import io

        from edgeloop_fw import features as F
        from edgeloop_fw.runtime.loader import Model

        from ..train import gesture_cnn as GC

        t = Model(io.BytesIO(files["gesture.elm"])).inputs[0]
        xq = GC.int8_inputs(x, F.input_multiplier(float(t.scale)), int(t.zero_point))
        tflm_out, ours = GC.run_int8(files["gesture.tflite"], files["gesture.elm"], xq)
        flt = None if result is None else np.argmax(np.asarray(result.keras_model(GC.as_float(x), training=False)), 1)
        return {"float": flt, "int8": np.argmax(tflm_out, 1), "board": np.argmax(ours, 1)}
    from edgeloop_fw import trees as board_trees

    feats = window_features(x)
    evaluator = board_trees.parse(files["gesture_trees.csv"].decode().splitlines())
    return {"float": None if result is None else result.estimator.predict(feats),
            "int8": None if result is None else result.model.wrapper.predict(feats),
            "board": np.array([evaluator.predict([int(v) for v in row]) for row in feats])}


def _files_of(folder: Path, info: MI.ModelInfo) -> dict[str, bytes]:
    names = [info.model["file"]] + ([info.model["reference"]] if info.model.get("reference") else [])
    return {n: (folder / n).read_bytes() for n in names}


def _confusion(y: np.ndarray, p: np.ndarray, n: int) -> list[list[int]]:
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y, p), 1)
    return m.tolist()


def retrain(opts: RetrainOptions, progress=None) -> Outcome:
    started = time.time()
    parent_dir = Path(opts.parent)
    parent = MI.load(parent_dir, "gesture")
    recipe = recipe_options(parent_dir, parent)
    seed = recipe.seed if opts.seed is None else opts.seed
    recipe.seed = seed
    if opts.epochs:
        recipe.epochs = opts.epochs
    if not 0 <= opts.tolerance < 1:
        raise RetrainError(f"tolerance {opts.tolerance} should be a share between 0 and 1 (0.02 = 2 points)")
    ds, train_takes, test_takes = split_of(parent_dir, parent)
    labelled = load_windows(opts.db, labelled=True)
    channels = len(parent.channels or []) or 3
    labelled = [w for w in labelled if w.raw.shape == (parent.window, channels)]
    if not labelled:
        raise RetrainError(f"no labelled windows of {parent.window}x{channels} in {opts.db}; label some with "
                           f"`edgeloop label --db {opts.db} --set ID=class`")
    classes = sorted(set(parent.classes) | {w.label for w in labelled})
    field_train, field_test, sessions = split_sessions(labelled, opts.field_test_fraction, seed)
    if not field_test:
        raise RetrainError(f"the {len(labelled)} labelled windows come from too few sessions to hold any out "
                           "(need two sessions of a class); label windows of more sessions")
    x_tr0, y_tr0, _ = D.stack(train_takes, classes, parent.window, recipe.resolved_train_hop())
    x_fd = np.stack([w.raw for w in field_train]) if field_train else np.zeros((0,) + x_tr0.shape[1:], np.int16)
    y_fd = np.array([classes.index(w.label) for w in field_train], np.int64)
    x_tr, y_tr = np.concatenate([x_tr0, x_fd]), np.concatenate([y_tr0, y_fd])
    x_te, y_te, owner = D.stack(test_takes, classes, parent.window, parent.hop)
    x_ft = np.stack([w.raw for w in field_test])
    y_ft = np.array([classes.index(w.label) for w in field_test], np.int64)

    fitted = G.fit(recipe, ds.channels, len(classes), x_tr, y_tr, x_te, progress)
    if progress:
        progress("re-validating parent and candidate", 0, 1)
    parent_files = _files_of(parent_dir, parent)
    to_new = np.array([classes.index(c) for c in parent.classes])
    rows, reasons, confusion = [], [], {}
    for name, x, y in ((SETS[0], x_te, y_te), (SETS[1], x_ft, y_ft)):
        p_pred = predict_all(parent.kind, parent_files, x)
        c_pred = predict_all(recipe.model, fitted.files, x, fitted.result)
        for runner in ("float", "int8", "board"):
            pa = None if p_pred[runner] is None else float((to_new[np.asarray(p_pred[runner])] == y).mean())
            ca = None if c_pred[runner] is None else float((np.asarray(c_pred[runner]) == y).mean())
            rows.append(Row(name, fitted.runners[runner], len(y), pa, ca))
            if runner == "board" and pa is not None and ca is not None and ca < pa - opts.tolerance:
                reasons.append(f"{name}: {fitted.runners[runner]} {100 * ca:.1f} % < parent {100 * pa:.1f} % "
                               f"- tolerance {100 * opts.tolerance:.1f} points")
        confusion[name] = {"parent": _confusion(y, to_new[np.asarray(p_pred["board"])], len(classes)),
                           "candidate": _confusion(y, np.asarray(c_pred["board"]), len(classes))}
    if progress:
        progress("re-validating parent and candidate", 1, 1)
    promoted = not reasons
    per_class, overall = G._scores(classes, y_te, fitted.predictions)
    parent_model_hash = hashlib.sha256(parent_files[parent.model["file"]]).hexdigest()[:16]
    info = MI.ModelInfo(
        task="gesture", kind=recipe.model, classes=classes, window=parent.window, hop=parent.hop,
        train_hop=recipe.resolved_train_hop(), rate_hz=parent.rate_hz, channels=parent.channels,
        units=parent.units, source_units=parent.source_units, data=dict(parent.data),
        split=dict(parent.split, train_windows=int(len(y_tr)), test_windows=int(len(y_te)),
                   field={"train_windows": len(field_train), "test_windows": len(field_test), "by": "session",
                          "sessions": sessions}),
        model=dict(fitted.model, training_reference=TR.FILE_NAME),
        evaluation={"windows": int(len(y_te)), "runners": fitted.runners, "per_class": per_class, "overall": overall,
                    "windows_per_class": {c: int((y_te == i).sum()) for i, c in enumerate(classes)},
                    "labels": [int(v) for v in y_te], "takes": [test_takes[i].name for i in owner],
                    "predictions": fitted.predictions},
        lineage={
            "parent": {"path": str(parent_dir), "model_hash": parent_model_hash,
                       "model_json_sha256": _sha256(parent_dir / MI.FILE_NAME), "classes": parent.classes},
            "data": [{"kind": "takes", "path": str(t), "sha256": _sha256(t)} for t in ds.tables]
                    + [{"kind": "labelled field windows", "db": str(opts.db), "sha256": field_hash(labelled),
                        "windows": len(labelled), "ids": [w.id for w in labelled]}],
            "seeds": {"split": parent.split.get("seed"), "field_split": seed, "training": seed},
            "revalidation": {"runner_deciding": fitted.runners["board"], "tolerance": opts.tolerance,
                             "rows": [{"set": r.set, "runner": r.runner, "windows": r.windows,
                                       "parent": r.parent, "candidate": r.candidate} for r in rows],
                             "confusion": confusion},
            "promoted": promoted, "forced": bool(opts.force and not promoted), "refused_because": reasons,
        })
    if fitted.identical is not None:
        info.evaluation["identical_outputs"] = fitted.identical
    info.train_seconds = round(time.time() - started, 1)
    written = promoted or opts.force
    if written:
        files = dict(fitted.files)
        files[MI.FILE_NAME] = MI.dumps(info).encode()
        files[TR.FILE_NAME] = build_from_files(info, files, x_tr, x_te)
        rec = {"command": f"edgeloop retrain --from {opts.parent} --db {opts.db} --out {opts.out} "
                          f"--tolerance {opts.tolerance:g} --seed {seed}" + (" --force" if opts.force else ""),
               "equivalent": G.command_line(recipe), "seed": seed, "versions": G._versions(recipe.model),
               "data_sha256": {d.get("path") or d["db"]: d["sha256"] for d in info.lineage["data"]}}
        files["recipe.json"] = (json.dumps(rec, indent=1) + "\n").encode()
        files["MODEL_CARD.md"] = C.gesture_card(info, rec).encode()
        G.write_outputs(Path(opts.out), files)
    return Outcome(rows, promoted, bool(opts.force and not promoted), reasons, info, written, confusion)
