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

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import modelinfo as MI
from .. import trainref as TR
from ..log.db import shown
from ..log.labels import Window, labelled_hash, load_windows
from ..train import card as C
from ..train import dataset as D
from ..train import gesture as G
from ..train.reference import build_from_files, split_of, window_features
from .common import (DEFAULT_TOLERANCE, Outcome, RetrainError, RetrainRefused, Row, check_tolerance,  # noqa: F401
                     lineage, sha256_file, side_by_side, split_groups)

SETS = ("parent held-out takes", "held-out field sessions")


@dataclass
class RetrainOptions:
    parent: str
    db: str | None
    out: str
    tolerance: float = DEFAULT_TOLERANCE
    field_test_fraction: float = 0.3
    seed: int | None = None  # default: the parent's
    epochs: int | None = None  # default: the parent's
    force: bool = False
    # keyword parents (retrain/keyword.py)
    recordings: str | None = None  # one folder per word of 16 kHz mono 16-bit WAV files
    data_dir: str | None = None  # TFLM's micro_speech recordings: the recipe's background noise
    cache_dir: str | None = None  # synthesized speech and features, as `train keyword --cache`
    jobs: int | None = None


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
    sids = [w.session_id or 0 for w in windows]
    test, _ = split_groups(sids, [w.label for w in windows], fraction, seed)
    train = [w for w, s in zip(windows, sids) if s not in test]
    held = [w for w, s in zip(windows, sids) if s in test]
    return train, held, {"train": sorted(set(sids) - test), "test": sorted(test), "seed": seed,
                         "fraction": fraction}


def field_hash(windows: list[Window]) -> str:
    return labelled_hash(windows, lambda w: w.raw)


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


def retrain(opts: RetrainOptions, progress=None) -> Outcome:
    """Retrain the parent in opts.parent: a gesture model from a log, a keyword model from recordings."""
    parent = MI.load(Path(opts.parent))
    check_tolerance(opts.tolerance)
    if parent.task == "keyword":
        from .keyword import retrain_keyword

        return retrain_keyword(opts, parent, progress)
    if opts.recordings:
        raise RetrainError(f"--recordings (WAV folders) retrains keyword models; {opts.parent} is a "
                           f"{parent.task} model: give --db with labelled windows")
    if not opts.db:
        raise RetrainError(f"a {parent.task} model retrains from labelled windows: give --db log.sqlite")
    return retrain_gesture(opts, progress)


def retrain_gesture(opts: RetrainOptions, progress=None) -> Outcome:
    started = time.time()
    parent_dir = Path(opts.parent)
    parent = MI.load(parent_dir, "gesture")
    recipe = recipe_options(parent_dir, parent)
    seed = recipe.seed if opts.seed is None else opts.seed
    recipe.seed = seed
    if opts.epochs:
        recipe.epochs = opts.epochs
    ds, train_takes, test_takes = split_of(parent_dir, parent)
    labelled = load_windows(opts.db, labelled=True)
    channels = len(parent.channels or []) or 3
    labelled = [w for w in labelled if w.raw.shape == (parent.window, channels)]
    if not labelled:
        raise RetrainError(f"no labelled windows of {parent.window}x{channels} in {shown(opts.db)}; label some with "
                           f"`edgeloop label --db {shown(opts.db)} --set ID=class`")
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
    rows, reasons, confusion = side_by_side(
        ((SETS[0], x_te, y_te), (SETS[1], x_ft, y_ft)),
        lambda x: predict_all(parent.kind, parent_files, x),
        lambda x: predict_all(recipe.model, fitted.files, x, fitted.result),
        fitted.runners, to_new, len(classes), opts.tolerance)
    if progress:
        progress("re-validating parent and candidate", 1, 1)
    promoted = not reasons
    per_class, overall = G._scores(classes, y_te, fitted.predictions)
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
        lineage=lineage(
            parent_dir, parent, parent_files[parent.model["file"]],
            [{"kind": "takes", "path": str(t), "sha256": sha256_file(t)} for t in ds.tables]
            + [{"kind": "labelled field windows", "db": shown(opts.db), "sha256": field_hash(labelled),
                "windows": len(labelled), "ids": [w.id for w in labelled]}],
            {"split": parent.split.get("seed"), "field_split": seed, "training": seed},
            fitted.runners["board"], opts.tolerance, rows, confusion, reasons, opts.force))
    if fitted.identical is not None:
        info.evaluation["identical_outputs"] = fitted.identical
    info.train_seconds = round(time.time() - started, 1)
    written = promoted or opts.force
    if written:
        files = dict(fitted.files)
        files[MI.FILE_NAME] = MI.dumps(info).encode()
        files[TR.FILE_NAME] = build_from_files(info, files, x_tr, x_te)
        rec = {"command": f"edgeloop retrain --from {opts.parent} --db {shown(opts.db)} --out {opts.out} "
                          f"--tolerance {opts.tolerance:g} --seed {seed}" + (" --force" if opts.force else ""),
               "equivalent": G.command_line(recipe), "seed": seed, "versions": G._versions(recipe.model),
               "data_sha256": {d.get("path") or d["db"]: d["sha256"] for d in info.lineage["data"]}}
        files["recipe.json"] = (json.dumps(rec, indent=1) + "\n").encode()
        files["MODEL_CARD.md"] = C.gesture_card(info, rec).encode()
        G.write_outputs(Path(opts.out), files)
    return Outcome(rows, promoted, bool(opts.force and not promoted), reasons, info, written, confusion)
