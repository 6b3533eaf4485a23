"""Distilled vs undistilled keyword student, clip scores only (no stream).

The same training copies as `edgeloop train keyword --recordings`, features from the
--cache folder, the held-out speakers scored int8 under TFLM with kws_score's table.
Cheaper than two full `train keyword` runs (no CPython runtime pass, no 38-minute
stream), so candidates can be compared on a loaded host; the row it prints is the
one docs/keyword-spotting.md's candidates table quotes.

    PYTHONPATH=host:firmware .venv/bin/python benchmarks/kws_distill_compare.py \\
        --teacher ../shared/data/mlperf_tiny/kws_ref_model.tflite --copies 6 --out /tmp/kd/teacher
    (the same without --teacher for the undistilled student; --arch dscnn --width 24 --blocks 3 for a
    DS-CNN student, --temperature/--alpha as train keyword's)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgeloop.train import keyword_data as D
from edgeloop.train import kws_score as S
from edgeloop.train.keyword import KeywordRecipe, _instructions, fit_and_quantize, real_training_set

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def recipe_from_args(a: argparse.Namespace) -> KeywordRecipe:
    """The recipe `train keyword` would get from the same options (its other fields at their defaults)."""
    width = a.width if a.width else (16 if a.arch == "dscnn" else 8)
    return KeywordRecipe(words=a.words.split(","), recordings=str(DATA / "speech_commands"), copies=a.copies,
                         epochs=a.epochs, arch=a.arch, width=width, blocks=a.blocks, teacher=a.teacher,
                         teacher_temperature=a.temperature, teacher_alpha=a.alpha)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for NAME.json/.tflite/.elm")
    ap.add_argument("--teacher", help="teacher .tflite (MLPerf Tiny's DS-CNN); none: undistilled")
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--arch", choices=("tiny", "dscnn"), default="tiny")
    ap.add_argument("--width", type=int, help="filters per conv (train's --width; default 8 tiny, 16 dscnn)")
    ap.add_argument("--blocks", type=int, default=2, help="dscnn: depthwise-separable blocks (train's --blocks)")
    ap.add_argument("--temperature", type=float, default=4.0, help="with --teacher: train's --temperature")
    ap.add_argument("--alpha", type=float, default=0.5, help="with --teacher: train's --alpha")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--words", default="yes,no,up,down")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/kws/cache"), help="feature cache (train's --cache)")
    ap.add_argument("--jobs", type=int, default=2)
    return ap


def main() -> None:
    a = parser().parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    name = a.out.name
    t0 = time.time()
    recipe = recipe_from_args(a)
    classes = recipe.classes()
    data = real_training_set(recipe, D.load_backgrounds(DATA / "tflm" / "micro_speech"), a.cache, a.jobs)
    c_train, y_train, x_train, x_test, y_test = data.c_train, data.y_train, data.x_train, data.x_test, data.y_test
    print(name, "clips", len(c_train), "loaded in", round(time.time() - t0), "s", flush=True)
    t1 = time.time()
    soft = None
    if a.teacher:
        from edgeloop.train import kws_teacher as K
        soft = K.soft_targets(K.Teacher(a.teacher).probabilities(c_train), classes, recipe.teacher_temperature)
    print(name, "teacher in", round(time.time() - t1), "s", flush=True)
    t1 = time.time()
    model, tflite, conv = fit_and_quantize(x_train, y_train, len(classes), recipe, None, soft)
    print(name, "trained and quantized in", round(time.time() - t1), "s", flush=True)
    (a.out / f"{name}.tflite").write_bytes(tflite)
    (a.out / f"{name}.elm").write_bytes(conv.data)
    sc = S.clip_scores(tflite, x_test)
    top, thr = S.summary(sc, y_test, classes, 0), S.summary(sc, y_test, classes, 200)
    ins = _instructions(conv)
    out = {"name": name, "macs": conv.macs, "elm": len(conv.data), "arena": conv.arena_size, "instructions": ins,
           "top1": top, "at200": thr, "thresholds": S.threshold_table(sc, y_test, classes),
           "seconds": time.time() - t0, "recipe": recipe.to_json()}
    (a.out / f"{name}.json").write_text(json.dumps(out, indent=1))

    def pc(v):
        return f"{100 * v:.1f}"

    print(name, "MACs", conv.macs, "elm", len(conv.data), "arena", conv.arena_size, "instr", ins.get("instructions"),
          "| balanced", pc(top["balanced_accuracy"]), "/", pc(thr["balanced_accuracy"]),
          "| fk unknown", pc(top["false_keyword_unknown"]), "/", pc(thr["false_keyword_unknown"]),
          "noise", pc(top["false_keyword_silence"]), "/", pc(thr["false_keyword_silence"]),
          "| per class", {k: pc(v["accuracy"]) for k, v in top["per_class"].items()}, flush=True)


if __name__ == "__main__":
    main()
