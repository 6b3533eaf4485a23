"""Tune the keyword spotter's settings on TRAINING speakers, then report them on held-out speakers.

    .venv/bin/python benchmarks/tune_kws_spotter.py [--model models/keyword] [--cache DIR] [--write]

Tuning stream: clips of the speakers the model was trained on (as many keyword, unknown and
background clips as the held-out stream has, drawn with a fixed seed), built like the held-out
stream (kws_score.make_stream). The model runs once per two hops over each stream (under TFLM);
every setting of the grid is replayed through the board's decision code (train/kws_tune.py). The
best setting on the training stream (keywords detected minus 2 x false alarms) is then scored on
the held-out stream beside the model's current settings. --write puts the tuned settings into the
model folder's model.json (`kws`, what the board reads) and recipe.json.
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
    return (f"{name:<9} every {s['every']}, average {s['average_ms']} ms, threshold {s['threshold']}, "
            f"suppression {s['suppression_ms']} ms, minimum {s.get('minimum_count', 3)}: "
            f"{st['detected']} of {st['keywords']} detected ({100 * st['detected_rate']:.1f} %), "
            f"{st['false_alarms']} false alarms ({st['false_alarms_per_hour']:.1f}/h)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "keyword")
    ap.add_argument("--cache", type=Path, help="folder for stream features and model outputs (reused)")
    ap.add_argument("--alarm-cost", type=float, default=2.0, help="misses one false alarm is worth [2]")
    ap.add_argument("--write", action="store_true", help="put the tuned settings into the model folder")
    args = ap.parse_args()

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
    rows = T.tune(interp, info.classes, tflite, st, feats, alarm_cost=args.alarm_cost, outputs=outs)
    print(f"\ntraining speakers, {len(rows)} settings; best 10 (detected - {args.alarm_cost:g} x false alarms):")
    for r in rows[:10]:
        print(line("  train", r))
    tuned = rows[0]["settings"]
    print(line("  current", T.sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks, [current])[0]))

    st, feats, outs = res["held-out"]
    print("\nheld-out speakers (never used for choosing):")
    held = {}
    for name, s in (("current", current), ("tuned", tuned)):
        held[name] = T.sweep(interp, info.classes, outs, len(feats), len(st.x), st.marks, [s])[0]
        print(line(name, held[name]))
    if args.write:
        mj = json.loads((d / "model.json").read_text())
        mj["kws"] = dict(tuned)
        (d / "model.json").write_text(json.dumps(mj, indent=1) + "\n")
        print(f"wrote {d / 'model.json'} kws = {tuned}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
