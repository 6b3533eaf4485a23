"""Keyword spotting on real voices: the shipped model next to TFLM's micro_speech, same clips, same run.

    .venv/bin/python benchmarks/bench_kws_real.py [--model DIR ...] [--no-stream]

Clips: the speakers `models/keyword` held out from training (recipe.json names them; the split is
recomputed from the recipe's seed and checked against that list) in ../shared/data/speech_commands,
plus the background clips held out with them. Features: the board's front end
(edgeloop_fw.audio.AudioFrontend), reset per clip. Every model runs int8 under TFLM.

For each model, on its own classes (micro_speech knows yes and no: up and down are "unknown" to it,
and a clip it calls yes or no is a false keyword there): per-class accuracy, the class-balanced
accuracy, the false-keyword rate on unknown words and on noise, top-1 and at the spotter's threshold.
Then the stream: every held-out keyword and unknown clip with 1-2 s gaps over the held-out
background, through the board's spotter (edgeloop_fw.kws), each model with its own settings
(micro_speech: TFLM's defaults); detections, misses, false alarms per hour.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
SC = DATA / "speech_commands"
MS = DATA / "tflm" / "micro_speech"


def held_out(model_dir: Path):
    from edgeloop.train import real_speech as R

    doc = json.loads((model_dir / "recipe.json").read_text())
    r = doc["recipe"]
    clips = R.load(SC, r["words"])
    _, test, _, test_spk = R.split(clips, r["held_out"], r["seed"])
    if sorted(test_spk) != sorted(doc.get("held_out_speakers", [])):
        sys.exit(f"{model_dir}: the recomputed held-out speakers differ from recipe.json's; "
                 "was it trained on another folder?")
    return r, test


def load_models(dirs: list[Path]) -> dict:
    """name -> (.elm, .tflite, classes, spotter settings)."""
    from edgeloop import modelinfo
    from edgeloop.convert.int8 import convert_tflite

    speech = MS / "micro_speech_quantized.tflite"
    out = {}
    for d in dirs:
        info = modelinfo.load(d)
        out[str(d.relative_to(ROOT) if d.is_relative_to(ROOT) else d)] = (
            (d / "keyword.elm").read_bytes(), (d / "keyword.tflite").read_bytes(), info.classes, info.kws)
    out["micro_speech (TFLM)"] = (convert_tflite(speech).data, speech.read_bytes(),
                                  ["silence", "unknown", "yes", "no"], {"every": 4})
    return out


def relabel(words: list[str], labels: np.ndarray, classes: list[str]) -> np.ndarray:
    """Labels over [silence, unknown, *words] as the model's classes (other keywords become unknown)."""
    names = ["silence", "unknown", *words]
    return np.array([classes.index(names[y]) if names[y] in classes else 1 for y in labels], np.int64)


def pct(v) -> str:
    return "  n/a" if v is None else f"{100 * v:5.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", type=Path, help="keyword model folder(s) [models/keyword]")
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--cache", type=Path, help="folder for the stream's front-end features (reused across runs)")
    args = ap.parse_args()
    dirs = [p.resolve() for p in (args.model or [ROOT / "models" / "keyword"])]

    from edgeloop.train import keyword_data as D
    from edgeloop.train import kws_score as S

    recipe, test = held_out(dirs[0])
    words = recipe["words"]
    x = D.features([c.audio for c in test], args.cache)
    y = np.array([c.label for c in test], np.int64)
    models = load_models(dirs)
    print(f"held-out speakers of {dirs[0].name}: {len({c.speaker for c in test if c.speaker})}; clips: "
          + ", ".join(f"{n} {int((y == i).sum())}" for i, n in enumerate(["silence", "unknown", *words])))
    kw = [c for c in test if c.label >= 2]
    stream_x, marks = S.make_stream([c.audio for c in kw], [c.label for c in kw],
                                    [c.audio for c in test if c.label == 1], [c.audio for c in test if c.label == 0],
                                    recipe.get("stream_seed", 0))
    names_all = ["silence", "unknown", *words]
    feats_stream = None if args.no_stream else S.stream_features(stream_x, args.cache)
    for name, (elm, tflite, classes, settings) in models.items():
        yy = relabel(words, y, classes)
        scores = S.clip_scores(tflite, x)
        thr = settings.get("threshold", 200)
        top, at = S.summary(scores, yy, classes, 0), S.summary(scores, yy, classes, thr)
        print(f"\n== {name}: classes {', '.join(classes)}")
        print(f"{'class':<10} {'clips':>5} {'top-1 %':>8} {'at ' + str(thr):>8}")
        for c, v in top["per_class"].items():
            print(f"{c:<10} {v['clips']:>5} {pct(v['accuracy']):>8} {pct(at['per_class'][c]['accuracy']):>8}")
        print(f"{'balanced':<10} {top['clips']:>5} {pct(top['balanced_accuracy']):>8} {pct(at['balanced_accuracy']):>8}")
        print(f"keywords right {pct(top['keyword_detected'])} / {pct(at['keyword_detected'])} %; false keyword on "
              f"unknown words {pct(top['false_keyword_unknown'])} / {pct(at['false_keyword_unknown'])} %, on noise "
              f"{pct(top['false_keyword_silence'])} / {pct(at['false_keyword_silence'])} %")
        print("threshold  right  wrong  fk-unknown  fk-noise  balanced")
        for t in S.threshold_table(scores, yy, classes):
            print(f"{t['threshold']:>9}  {pct(t['keyword_detected'])}  {pct(t['wrong_keyword'])}  "
                  f"{pct(t['false_keyword_unknown']):>10}  {pct(t['false_keyword_silence']):>8}  {pct(t['balanced_accuracy']):>8}")
        if not args.no_stream:
            m = [(classes.index(names_all[lab]), at_) for lab, at_ in marks if names_all[lab] in classes]
            st = S.stream_score(S.TflmInterpreter(elm, tflite), classes, stream_x, m, settings, features=feats_stream)
            print(f"stream {st['hours'] * 60:.1f} min, settings {settings}: {st['detected']} of {st['keywords']} "
                  f"keywords detected ({pct(st['detected_rate'])} %), {st['missed']} missed, {st['false_alarms']} "
                  f"false alarms ({st['false_alarms_per_hour']:.1f} per hour)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
