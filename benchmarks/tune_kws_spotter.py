"""Tune the keyword spotter's settings on TRAINING speakers, then report them on held-out speakers.

    .venv/bin/python benchmarks/tune_kws_spotter.py [--model models/keyword] [--cache DIR] [--alarm-cost 2]

Tuning stream: clips of the speakers the model was trained on (as many keyword, unknown and
background clips as the held-out stream has, drawn with a fixed seed), built like the held-out
stream (kws_score.make_stream). The model runs once per two hops over each stream (under TFLM);
every setting of the grid is replayed through the board's decision code (train/kws_tune.py). The
best setting on the training stream (keywords detected minus --alarm-cost x false alarms) is then
scored on the held-out stream beside the model's current settings (model.json's `kws`, what deploy
puts in the board's config). The settings that beat the current ones on the training stream on both
figures at once (more keywords and no more false alarms, or fewer false alarms and no fewer
keywords) are listed too: they are better whatever a false alarm is worth.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SC = ROOT / ".." / "shared" / "data" / "speech_commands"


def streams(model_dir: Path):
    from edgeloop.train import kws_tune as T
    from edgeloop.train import real_speech as R

    doc = json.loads((model_dir / "recipe.json").read_text())
    r = doc["recipe"]
    clips = R.load(SC, r["words"])
    train, test, _, test_spk = R.split(clips, r["held_out"], r["seed"])
    if sorted(test_spk) != sorted(doc.get("held_out_speakers", [])):
        sys.exit(f"{model_dir}: the recomputed held-out speakers differ from recipe.json's")
    return T.streams(train, test, r.get("stream_seed", 0))


def outputs_for(tflite: bytes, feats: np.ndarray, cache: Path | None, tag: str):
    import hashlib

    from edgeloop.train import kws_tune as T

    path = None
    if cache is not None:
        h = hashlib.sha256(tflite + feats.tobytes()).hexdigest()[:24]
        path = cache / f"hops-{tag}-{h}.npz"
        if path.is_file():
            z = np.load(path)
            return dict(zip(z["fc"].tolist(), (bytes(r) for r in z["out"])))
    out = T.hop_outputs(tflite, feats, 2)
    if path is not None:
        fc = np.array(sorted(out), np.int64)
        np.savez(path, fc=fc, out=np.array([np.frombuffer(out[f], np.int8) for f in fc]))
    return out


def line(name, st):
    s = st["settings"]
    return (f"{name:<12} every {s['every']}, average {s['average_ms']} ms, threshold {s['threshold']}, "
            f"suppression {s['suppression_ms']} ms, minimum {s.get('minimum_count', 3)}: "
            f"{st['detected']} of {st['keywords']} detected ({100 * st['detected_rate']:.1f} %), "
            f"{st['false_alarms']} false alarms ({st['false_alarms_per_hour']:.1f}/h)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "keyword")
    ap.add_argument("--cache", type=Path, help="folder for stream features and model outputs (reused)")
    ap.add_argument("--alarm-cost", type=float, action="append",
                    help="misses one false alarm is worth [2]; repeat to compare several prices")
    args = ap.parse_args()
    costs = args.alarm_cost or [2.0]

    from edgeloop import modelinfo
    from edgeloop.train import kws_score as S
    from edgeloop.train import kws_tune as T

    d = args.model.resolve()
    info = modelinfo.load(d)
    elm, tflite = (d / "keyword.elm").read_bytes(), (d / "keyword.tflite").read_bytes()
    interp = S.TflmInterpreter(elm, tflite)
    current = dict(info.kws)
    res = {}
    for name, st in streams(d).items():
        feats = S.stream_features(st.x, args.cache)
        res[name] = (st, feats, outputs_for(tflite, feats, args.cache, name))
        print(f"{name} stream: {len(st.x) / 16000 / 60:.1f} min, {len(st.marks)} keywords, "
              f"{len(st.speakers)} speakers", flush=True)

    st, feats, outs = res["train"]
    rows = T.tune(interp, info.classes, tflite, st, feats, alarm_cost=costs[0], outputs=outs)
    print(f"\ntraining speakers, {len(rows)} settings; best 5 (detected - {costs[0]:g} x false alarms):")
    for r in rows[:5]:
        print(line("  train", r))
    tuned = {c: T.rank(rows, c)[0] for c in costs}
    for c in costs[1:]:
        print(line(f"  x {c:g}", tuned[c]))
    cur = T.sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks, [current])[0]
    print(line("  current", cur))
    better = T.dominating(rows, cur)
    print(f"\n{len(better)} settings beat the current ones on the training stream on both figures" +
          (":" if better else ""))
    for r in better[:5]:
        print(line("  train", r))

    st, feats, outs = res["held-out"]
    print("\nheld-out speakers (never used for choosing):")
    for name, s in [("current", current)] + [(f"tuned x {c:g}", r["settings"]) for c, r in tuned.items()]:
        print(line(name, T.sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks, [s])[0]))
    for r in better[:1]:
        print(line("beats", T.sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks, [r["settings"]])[0]))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
