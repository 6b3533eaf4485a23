"""`edgeloop retrain` for keyword models: the parent's own synthetic speech plus the user's recordings.

Steps:
1. The parent's recipe (recipe.json's "recipe": words, voices, seed, epochs, ...) and its data,
   made again by the same code (train.keyword_data.build_clips, same seed): the same voices --
   checked against recipe.json -- and, with the same espeak-ng, the same clips.
2. The user's recordings (train.recordings: one folder per word, 16 kHz mono 16-bit WAV), split
   by speaker -- never by clip -- with retrain.common.split_groups (seeded). The training
   speakers' clips join the parent's training clips (each once as recorded, and recipe.augment - 1
   more copies over the recipe's background noise, as synthetic clips get). With --db, labelled
   logged audio (log.keyword_audio) and labelled kept feature windows (log.kept_features: the
   board's own features, taken as they are) join them, split by session.
3. The candidate is trained and quantized by the parent's own code (train.keyword.fit_and_quantize)
   with the same recipe (--epochs / --seed override, recorded).
4. Parent and candidate side by side (retrain.common.side_by_side) on the parent's held-out voices
   and on the held-out speakers' recordings: float (the candidate only: the parent's Keras model is
   not kept), int8 under TFLM on the .tflite, int8 under edgeloop's runtime on the .elm -- all on
   the board front end's features.
5. Promotion on edgeloop's runtime, as for gesture models; refused: nothing written (exit 3),
   --force writes and records it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import modelinfo as MI
from ..log.db import shown
from ..train import keyword as K
from ..train import keyword_data as D
from ..train import recordings as R
from .common import Outcome, RetrainError, lineage, sha256_file, side_by_side, split_groups

SETS = ("parent held-out voices", "held-out user recordings")
RUNNERS = {"float": "float (TensorFlow)", "int8": "int8 TFLite (TFLM)", "board": "edgeloop"}
DEFAULT_DATA = "../shared/data/tflm/micro_speech"


def parent_recipe(folder: Path, info: MI.ModelInfo) -> tuple[dict, K.KeywordRecipe]:
    try:
        doc = json.loads((folder / "recipe.json").read_text())
        recipe = K.recipe_from_json(doc["recipe"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RetrainError(f"{folder}/recipe.json is missing or unreadable ({e}); retrain needs the parent's "
                           "recipe: train it with `edgeloop train keyword`") from None
    if recipe.classes() != info.classes:
        raise RetrainError(f"{folder}: recipe.json's classes {recipe.classes()} are not model.json's "
                           f"{info.classes}; the folder is inconsistent: train it again")
    return doc, recipe


def predictor(elm: bytes, tflite: bytes, keras_model=None):
    """x (N, 49, 40 int8 features) -> class per clip: float (with the Keras model), TFLM, edgeloop."""
    from ..train.gesture_cnn import run_int8

    def predict(x: np.ndarray) -> dict:
        if not len(x):
            return {"float": None, "int8": None, "board": None}
        tflm_out, ours = run_int8(tflite, elm, np.asarray(x, np.int8)[..., None])
        flt = None if keras_model is None else np.argmax(np.asarray(keras_model(K.as_float(x), training=False)), 1)
        return {"float": flt, "int8": np.argmax(tflm_out, 1), "board": np.argmax(ours, 1)}

    return predict


def _augmented(recs: list[R.Recording], copies: int, backgrounds, rng) -> tuple[list[np.ndarray], list[str]]:
    clips, words = [], []
    for r in recs:
        clips.append(r.clip)
        words.append(r.word)
        for _ in range(max(0, copies - 1)):
            noisy = r.clip.astype(np.float64) + D.background(backgrounds, rng, 0.4)
            clips.append(np.clip(np.round(noisy), -32768, 32767).astype(np.int16))
            words.append(r.word)
    return clips, words


def clips_hash(clips: list[np.ndarray]) -> str:
    import hashlib

    h = hashlib.sha256()
    for c in clips:
        h.update(np.asarray(c, "<i2").tobytes())
    return h.hexdigest()


def lineage_card(lin: dict, split: dict) -> str:
    """The card's last section for a retrained keyword model: where it came from and how it compared."""
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    verdict = "promoted" if lin["promoted"] else "FORCED although refused: " + "; ".join(lin["refused_because"])
    out = ["## Retrained", "",
           f"From `{lin['parent']['path']}` (model hash {lin['parent']['model_hash']}) with the user's recordings "
           f"of {len(split['speakers']['train'])} speakers; {len(split['speakers']['test'])} speakers' "
           f"{len(split['recordings']['test'])} recordings held out (split by speaker, seed {split['seed']}). "
           f"Verdict on {lin['revalidation']['runner_deciding']}, tolerance "
           f"{100 * lin['revalidation']['tolerance']:g} points: {verdict}.", "",
           "| set | runner | clips | parent | candidate |", "|---|---|---:|---:|---:|"]
    out += [f"| {r['set']} | {r['runner']} | {r['windows']} | {pct(r['parent'])} | {pct(r['candidate'])} |"
            for r in lin["revalidation"]["rows"]]
    out += ["", "Data sets (sha256): " + "; ".join(f"{d.get('path') or d['kind']} `{d['sha256'][:16]}`"
                                                 for d in lin["data"]) + ".", ""]
    return "\n".join(out)


def retrain_keyword(opts, parent: MI.ModelInfo, progress=None) -> Outcome:
    from ..reference.arena import smallest_arena
    from ..train.gesture import write_outputs
    from ..train.speech import version as espeak_version

    t0 = time.monotonic()
    parent_dir = Path(opts.parent)
    if not opts.recordings and not opts.db:
        raise RetrainError(f"{opts.parent} is a keyword model: give --recordings DIR with one folder of 16 kHz "
                           f"WAV files per word ({', '.join(parent.classes)}), and/or --db with labelled keyword "
                           "windows whose audio was logged (monitor --window --plot)")
    doc, recipe = parent_recipe(parent_dir, parent)
    classes = parent.classes
    recs = R.load(opts.recordings, classes) if opts.recordings else []
    logged, logged_clips, left_out, kept = [], [], 0, []
    if opts.db:
        from ..log.kept_features import labelled_features
        from ..log.keyword_audio import labelled_clips

        logged_clips, left_out = labelled_clips(opts.db)
        kept = labelled_features(opts.db)
        if not logged_clips and not kept:
            raise RetrainError(f"no labelled keyword window in {shown(opts.db)} has its second of audio in the log "
                               f"({left_out} labelled without it), and no labelled window was kept by a board's "
                               "capture rules: log keyword sessions with `edgeloop monitor --window --plot` (raw "
                               "samples too) or deploy with --keep-*, and label them with `edgeloop label`")
        for c in list(logged_clips) + kept:
            if c.label not in classes:
                raise RetrainError(f"logged window {c.id} is labelled '{c.label}', not a class of {opts.parent} "
                                   f"({', '.join(classes)}); a new word needs a new model: edgeloop train keyword")
        logged = [R.Recording(Path(shown(opts.db)), f"log:{c.id}", c.label, f"session {c.session_id}", c.clip, "")
                  for c in logged_clips]
    recs = recs + logged
    seed = recipe.seed if opts.seed is None else opts.seed
    # Kept feature windows are split with the recordings, by session like logged audio.
    kept_groups = [f"session {k.session_id}" for k in kept]
    test_groups, _ = split_groups([r.group for r in recs] + kept_groups,
                                  [r.word for r in recs] + [k.label for k in kept], opts.field_test_fraction, seed)
    if not test_groups:
        raise RetrainError(f"the {len(recs) + len(kept)} recordings in {opts.recordings or shown(opts.db)} come from too few speakers to hold "
                           "any out (need two speakers or logged sessions of a word; Speech Commands names are "
                           "<speaker>_nohash_<n>.wav): add recordings of more speakers")
    data_dir = Path(opts.data_dir or DEFAULT_DATA)
    backgrounds = D.load_backgrounds(data_dir)
    cache = Path(opts.cache_dir) if opts.cache_dir else None

    if recipe.recordings:
        raise RetrainError(f"{opts.parent} was trained on real recordings ({recipe.recordings}); retrain rebuilds a "
                           "parent's synthetic speech only: train again with `edgeloop train keyword --recordings` "
                           "over a folder holding those recordings and yours")
    # 1. the parent's own data, made again by the same code with the same seed
    (c_train, y_train, _), (c_test, y_test, _), train_v, test_v = D.build_clips(
        recipe, backgrounds, cache / "speech" if cache else None, progress)
    if ([v.name for v in train_v], [v.name for v in test_v]) != (doc.get("train_voices"), doc.get("test_voices")):
        raise RetrainError(f"the voices drawn for {opts.parent}'s recipe are not the ones its recipe.json lists "
                           "(another espeak-ng?); its data cannot be made again here")
    # 2. the user's recordings, whole speakers held out
    u_train = [r for r in recs if r.group not in test_groups]
    u_test = [r for r in recs if r.group in test_groups]
    c_user, w_user = _augmented(u_train, recipe.augment, backgrounds, np.random.default_rng([seed, 5]))
    all_clips = c_train + c_test + c_user + [r.clip for r in u_test]
    step = (lambda d, t: progress("features", d, t)) if progress else None
    feats = D.features(all_clips, cache / "features" if cache else None, opts.jobs, step)
    n0, n1, n2 = len(c_train), len(c_train) + len(c_test), len(c_train) + len(c_test) + len(c_user)
    k_train = [k for k, g in zip(kept, kept_groups) if g not in test_groups]
    k_test = [k for k, g in zip(kept, kept_groups) if g in test_groups]

    def kept_x(items):  # as the board computed them: the training input itself, no front end here
        return np.array([k.features for k in items], feats.dtype).reshape((len(items),) + feats.shape[1:])

    x_tr = np.concatenate([feats[:n0], feats[n1:n2], kept_x(k_train)])
    y_tr = np.concatenate([y_train, np.array([classes.index(w) for w in w_user], np.int64),
                           np.array([classes.index(k.label) for k in k_train], np.int64)])
    x_te, x_ut = feats[n0:n1], np.concatenate([feats[n2:], kept_x(k_test)])
    y_ut = np.array([classes.index(r.word) for r in u_test] + [classes.index(k.label) for k in k_test], np.int64)

    # 3. the candidate, by the parent's recipe
    train_recipe = K.recipe_from_json(dict(recipe.to_json(), seed=seed, epochs=opts.epochs or recipe.epochs))
    model, tflite, converted = K.fit_and_quantize(x_tr, y_tr, len(classes), train_recipe, progress)

    # 4. side by side
    if progress:
        progress("re-validating parent and candidate", 0, 1)
    p_elm = (parent_dir / parent.model["file"]).read_bytes()
    p_tflite = (parent_dir / parent.model["reference"]).read_bytes()
    rows, reasons, conf = side_by_side(((SETS[0], x_te, y_test), (SETS[1], x_ut, y_ut)),
                                       predictor(p_elm, p_tflite), predictor(converted.data, tflite, model),
                                       RUNNERS, np.arange(len(classes)), len(classes), opts.tolerance)
    if progress:
        progress("re-validating parent and candidate", 1, 1)
    accuracy, real, stream = K.score_all(model, tflite, converted, classes,
                                         {"held-out voices": (x_te, y_test), "held-out recordings": (x_ut, y_ut)},
                                         train_recipe, data_dir, progress)
    result = K.KeywordResult(
        classes=classes, train_voices=[v.name for v in train_v], test_voices=[v.name for v in test_v],
        counts={"train": np.bincount(y_tr, minlength=len(classes)).tolist(),
                "held-out": np.bincount(y_test, minlength=len(classes)).tolist(),
                "held-out recordings": np.bincount(y_ut, minlength=len(classes)).tolist()},
        accuracy=accuracy, real=real, stream=stream, model_bytes=len(converted.data), tflite_bytes=len(tflite),
        arena=converted.arena_size, tflm_arena=smallest_arena(tflite), macs=converted.macs,
        params=int(model.count_params()), seconds=0.0)
    result.seconds = round(time.monotonic() - t0, 1)

    data = [{"kind": "synthetic speech", "espeak-ng": espeak_version(), "seed": recipe.seed,
             "clips": len(c_train) + len(c_test), "sha256": clips_hash(c_train + c_test)}]
    data += [{"kind": "background recordings", "path": str(data_dir / n), "sha256": sha256_file(data_dir / n)}
             for n in D.BACKGROUNDS]
    folder = [r for r in recs if not r.rel.startswith("log:")]
    if folder:
        data.append({"kind": "recordings", "path": str(opts.recordings), "sha256": R.folder_hash(folder),
                     "files": len(folder)})
    if logged_clips:
        from ..log.keyword_audio import clips_hash as logged_hash

        data.append({"kind": "labelled keyword audio", "db": shown(opts.db), "sha256": logged_hash(logged_clips),
                     "windows": len(logged_clips), "ids": [c.id for c in logged_clips], "left_out": left_out})
    if kept:
        from ..log.kept_features import features_hash

        data.append({"kind": "labelled kept keyword features", "db": shown(opts.db), "sha256": features_hash(kept),
                     "windows": len(kept), "ids": [k.id for k in kept]})
    lin = lineage(parent_dir, parent, p_elm, data, {"data": recipe.seed, "recordings_split": seed, "training": seed},
                  RUNNERS["board"], opts.tolerance, rows, conf, reasons, opts.force)
    split = {"by": "speaker", "seed": seed, "fraction": opts.field_test_fraction,
             "speakers": {"train": sorted({r.group for r in u_train}), "test": sorted(test_groups)},
             "recordings": {"train": [r.rel for r in u_train] + [f"kept:{k.id}" for k in k_train],
                            "test": [r.rel for r in u_test] + [f"kept:{k.id}" for k in k_test]},
             "train_clips": int(len(y_tr)), "user_train_clips": len(c_user)}
    command = (f"edgeloop retrain --from {opts.parent}" + (f" --recordings {opts.recordings}" if opts.recordings else "")
               + (f" --db {shown(opts.db)}" if opts.db else "") + f" --out {opts.out} "
               f"--tolerance {opts.tolerance:g} --seed {seed}" + (f" --epochs {opts.epochs}" if opts.epochs else "")
               + (" --force" if opts.force else ""))
    doc_recipe = K.recipe_from_json(dict(recipe.to_json(), epochs=train_recipe.epochs))  # data seed: the parent's
    files, info = K.output_files(doc_recipe, result, converted.data, tflite, command, split=split, lineage=lin,
                                 recipe_extra={"training_seed": seed, "training_epochs": train_recipe.epochs,
                                               "parent": str(parent_dir),
                                               "data_sha256": {d.get("path") or d["kind"]: d["sha256"]
                                                               for d in data}})
    files["MODEL_CARD.md"] += lineage_card(lin, split).encode()
    written = not reasons or opts.force
    if written:
        write_outputs(Path(opts.out), files)
    return Outcome(rows, not reasons, bool(opts.force and reasons), reasons, info, written, conf)
