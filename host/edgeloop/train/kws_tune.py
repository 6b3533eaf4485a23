"""Tuning the board's spotter settings (every, average_ms, threshold, suppression_ms, minimum_count).

The model's output over a stream does not depend on the spotter's settings, only on which frames
it runs at; the settings only change what the spotter makes of those outputs. So the model runs
once per hop of a fine grid (`hop_outputs`, under TFLM: the same bytes as the board's runtime), and
every setting is replayed from those bytes through the board's own decision code
(`KeywordSpotter._decide`, the RecognizeCommands logic the firmware runs): a sweep of hundreds of
settings costs one pass of the model, not hundreds.

Settings are chosen on a stream of TRAINING speakers (`streams(...)["train"]`); the held-out
speakers' stream is for reporting the chosen settings, never for choosing them: settings picked on
the speakers they are scored on would report a figure no new speaker gets.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import kws_score as S

FRAMES = 49  # one second of 20 ms frames: the first inference is at frame 49
ALARM_COST = 2.0


@dataclass
class Stream:
    """A long recording for the spotter: samples, the keywords' (label, start sample), the speakers in it."""

    x: np.ndarray
    marks: list[tuple[int, int]]
    speakers: list[str]


def streams(train: list, test: list, stream_seed: int = 0) -> dict[str, Stream]:
    """{"train", "held-out"}: streams built as the card's (kws_score.make_stream) from real_speech
    Clips. The held-out one holds every held-out clip (the card's stream); the training one the same
    number of keyword and unknown clips drawn from the training speakers with a fixed seed, over the
    training background clips. Raises ValueError if a speaker is in both."""
    rng = np.random.default_rng([stream_seed, 31])

    def pick(pool, n):
        return [pool[i] for i in sorted(rng.permutation(len(pool))[:n])]

    out = {}
    for name, part in (("train", train), ("held-out", test)):
        kw = [c for c in part if c.label >= 2]
        unk = [c for c in part if c.label == 1]
        bed = [c for c in part if c.label == 0]
        if name == "train":  # the held-out stream's size, from the training speakers
            kw = pick(kw, sum(c.label >= 2 for c in test))
            unk = pick(unk, sum(c.label == 1 for c in test))
        x, marks = S.make_stream([c.audio for c in kw], [c.label for c in kw], [c.audio for c in unk],
                                 [c.audio for c in bed], stream_seed)
        out[name] = Stream(x, marks, sorted({c.speaker for c in kw + unk}))
    both = set(out["train"].speakers) & set(out["held-out"].speakers)
    if both:
        raise ValueError(f"speakers {', '.join(sorted(both)[:3])} are in both the training and the held-out stream")
    return out


def hop_outputs(tflite: bytes, features: np.ndarray, step: int = 2) -> dict[int, bytes]:
    """{frame_count: raw int8 output bytes} at every frame_count the spotter with every=step
    (or any multiple of it) runs the model, for features = stream_features(x)."""
    from ..reference import tflm

    ref = tflm.interpreter(tflite, "tuning the keyword spotter")
    shape = tuple(ref.get_input_details(0)["shape"])
    out = {}
    for fc in range(FRAMES, len(features) + 1, step):
        win = np.ascontiguousarray(features[fc - FRAMES:fc].reshape(shape))
        out[fc] = tflm.invoke(ref, win).astype(np.int8).tobytes()
    return out


def replay(interpreter, classes: list[str], outputs: dict[int, bytes], n_frames: int, settings: dict):
    """The detections (ms, class, score) the board's spotter makes with `settings` when its model
    gives `outputs` (from hop_outputs over the same n_frames): push_features' bookkeeping without
    the feature ring, then the spotter's own _decide."""
    from edgeloop_fw.kws import KeywordSpotter

    k = KeywordSpotter(interpreter, classes, **settings)
    every = k.every
    found = []
    for fc in range(FRAMES, n_frames + 1, every):
        row = outputs.get(fc)
        if row is None:
            raise ValueError(f"no model output at frame {fc}: hop_outputs' step must divide every={every}")
        k.frame_count = fc
        k.output[:] = row
        c = k._decide(k.time_ms())
        if c >= 0:
            found.append((k.detected_ms, c, k.detected_score))
    return found


GRID = {"every": (2, 4), "average_ms": (300, 500, 750, 1000), "threshold": (96, 128, 160, 192, 200, 224),
        "suppression_ms": (500, 750, 1000, 1500), "minimum_count": (1, 2, 3)}


def grid(**axes) -> list[dict]:
    """Every combination of GRID's values (an axis given here replaces GRID's)."""
    g = {**GRID, **axes}
    return [dict(zip(g, v)) for v in itertools.product(*g.values())]


def objective(st: dict, alarm_cost: float = ALARM_COST) -> float:
    """Keywords detected minus alarm_cost per false alarm: a device that acts unasked is worse than
    one that needs the word said again."""
    return st["detected"] - alarm_cost * st["false_alarms"]


def sweep(interpreter, classes, outputs, n_frames: int, n_samples: int, marks, settings_list,
          late_ms: int = 750) -> list[dict]:
    """S.match's figures for every settings dict, in the given order."""
    return [S.match(replay(interpreter, classes, outputs, n_frames, s), marks, n_samples, s, late_ms)
            for s in settings_list]


def tune(interpreter, classes: list[str], tflite: bytes, stream: Stream, features: np.ndarray,
         settings_list: list[dict] | None = None, alarm_cost: float = ALARM_COST,
         outputs: dict[int, bytes] | None = None) -> list[dict]:
    """Every setting's figures on `stream` (a TRAINING-speaker stream; features = its
    stream_features), best first: highest objective, then most keywords detected, then the earlier
    setting in settings_list (default grid()). rows[0]["settings"] is the choice."""
    settings_list = grid() if settings_list is None else settings_list
    if outputs is None:
        step = int(np.gcd.reduce([s.get("every", 4) for s in settings_list]))
        outputs = hop_outputs(tflite, features, step)
    return rank(sweep(interpreter, classes, outputs, len(features), len(stream.x), stream.marks, settings_list),
                alarm_cost)


def rank(rows: list[dict], alarm_cost: float = ALARM_COST) -> list[dict]:
    """rows (sweep's, in grid order) best first: highest objective, then most keywords, then grid order."""
    order = sorted(range(len(rows)), key=lambda i: (-objective(rows[i], alarm_cost), -rows[i]["detected"], i))
    return [rows[i] for i in order]


def dominating(rows: list[dict], reference: dict) -> list[dict]:
    """The rows that detect at least as many keywords as `reference` with no more false alarms, and
    beat it on one of the two: settings better without choosing a price for a false alarm. Fewest
    false alarms first, then most keywords."""
    d0, f0 = reference["detected"], reference["false_alarms"]
    out = [r for r in rows if r["detected"] >= d0 and r["false_alarms"] <= f0
           and (r["detected"] > d0 or r["false_alarms"] < f0)]
    return sorted(out, key=lambda r: (r["false_alarms"], -r["detected"]))


def hop_outputs_cached(tflite: bytes, features: np.ndarray, cache: Path | None, step: int = 2) -> dict[int, bytes]:
    """hop_outputs, kept in `cache` by the model's and the features' content (~1 minute a stream)."""
    path = None
    if cache is not None:
        h = hashlib.sha256(tflite + features.tobytes()).hexdigest()[:24]
        path = Path(cache) / f"hops-{step}-{h}.npz"
        if path.is_file():
            z = np.load(path)
            return dict(zip(z["fc"].tolist(), (bytes(r) for r in z["out"])))
    out = hop_outputs(tflite, features, step)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fc = np.array(sorted(out), np.int64)
        np.savez(path, fc=fc, out=np.array([np.frombuffer(out[f], np.int8) for f in fc]))
    return out


@dataclass
class Report:
    """What tune_model found: training-stream rows best first (for costs[0]), the choice per price
    of a false alarm, the current settings' figures, the rows better on both figures, and the
    held-out figures of the current and each chosen setting ({"current" | cost: row})."""

    streams: dict[str, Stream]
    rows: list[dict]
    costs: list[float]
    chosen: dict[float, dict]
    current_train: dict
    better: list[dict]
    held_out: dict = field(default_factory=dict)


def tune_model(model_dir: str | Path, recordings: str | Path, cache: str | Path | None = None,
               costs=(ALARM_COST,), settings_list: list[dict] | None = None, progress=None) -> Report:
    """Tune a keyword model trained with --recordings on its own training speakers and report the
    choice on its held-out ones. The split is recomputed from recipe.json and must give the
    held-out speakers it lists (else ModelError: another folder than the one it was trained on)."""
    from ..errors import ModelError
    from ..modelinfo import load as load_info
    from . import real_speech as R

    d = Path(model_dir)
    try:
        info = load_info(d)
        doc = json.loads((d / "recipe.json").read_text())
        elm, tflite = (d / "keyword.elm").read_bytes(), (d / "keyword.tflite").read_bytes()
    except (OSError, ValueError) as e:
        raise ModelError(f"{d}: not a keyword model folder ({e}); give the folder `edgeloop train keyword` wrote") from None
    r = doc.get("recipe", {})
    if info.task != "keyword" or not r.get("recordings") or not doc.get("held_out_speakers"):
        raise ModelError(f"{d} was not trained on real recordings (train keyword --recordings): "
                         "it has no training speakers to tune the spotter on")
    clips = R.load(recordings, r["words"])
    train, test, _, test_spk = R.split(clips, r["held_out"], r["seed"])
    if sorted(test_spk) != sorted(doc["held_out_speakers"]):
        raise ModelError(f"{recordings}: its speakers split otherwise than {d / 'recipe.json'} records; give the "
                         f"folder the model was trained on ({r['recordings']})")
    cache = Path(cache) if cache is not None else None
    interp = S.TflmInterpreter(elm, tflite)
    costs = list(costs)
    current = dict(info.kws or {})
    out = {}
    for name, st in streams(train, test, r.get("stream_seed", 0)).items():
        if progress:
            progress(f"{name} stream", 0, 2)
        feats = S.stream_features(st.x, cache)
        if progress:
            progress(f"{name} stream", 1, 2)
        out[name] = (st, feats, hop_outputs_cached(tflite, feats, cache))
        if progress:
            progress(f"{name} stream", 2, 2)

    st, feats, outs = out["train"]
    rows = tune(interp, info.classes, tflite, st, feats, settings_list, costs[0], outs)
    chosen = {c: rank(rows, c)[0] for c in costs}
    cur = sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks, [current])[0]
    rep = Report({k: v[0] for k, v in out.items()}, rows, costs, chosen, cur, dominating(rows, cur))
    st, feats, outs = out["held-out"]
    for key, s in [("current", current)] + [(c, chosen[c]["settings"]) for c in costs]:
        rep.held_out[key] = sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks, [s])[0]
    if rep.better:
        rep.held_out["better"] = sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks,
                                       [rep.better[0]["settings"]])[0]
    return rep
