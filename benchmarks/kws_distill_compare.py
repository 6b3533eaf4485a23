"""Distilled vs undistilled keyword student, clip scores only (no stream): the same training copies as
`edgeloop train keyword --recordings`, features from --cache's folder, the held-out speakers scored
int8 under TFLM with kws_score's table. Cheaper than two full `train keyword` runs (no CPython
runtime pass, no 38-minute stream), for comparing candidates on a loaded host.

usage: PYTHONPATH=host:firmware python benchmarks/kws_distill_compare.py NAME COPIES TEACHER|- [tiny|dscnn] [EPOCHS]
(writes /tmp/kd/NAME.json, .tflite, .elm; prints the figures)
"""
import sys, json, time
import numpy as np
from pathlib import Path
from edgeloop.train import real_speech as R, keyword_data as D, kws_score as S
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
Path("/tmp/kd").mkdir(exist_ok=True)
from edgeloop.train.keyword import KeywordRecipe, fit_and_quantize, _instructions
name, copies, teacher = sys.argv[1], int(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None)
arch = sys.argv[4] if len(sys.argv) > 4 else "tiny"
epochs = int(sys.argv[5]) if len(sys.argv) > 5 else 30
t0 = time.time()
recipe = KeywordRecipe(words=["yes","no","up","down"], recordings=str(DATA / "speech_commands"), copies=copies,
                       epochs=epochs, arch=arch, width=16 if arch == "dscnn" else 8, teacher=teacher)
classes = recipe.classes()
clips = R.load(recipe.recordings, recipe.words)
train, test, trs, tes = R.split(clips, recipe.held_out, recipe.seed)
backgrounds = D.load_backgrounds(DATA / "tflm" / "micro_speech")
noises = [c.audio for c in train if c.label == 0] + [backgrounds[0]]
c_train, y_train = R.training_clips(train, noises, recipe.copies, recipe.seed, recipe.unknown_copies)
c_test = [c.audio for c in test]; y_test = np.array([c.label for c in test], np.int64)
feats = D.features(c_train + c_test, Path("/tmp/kws/cache/features"), 2)
x_train, x_test = feats[:len(c_train)], feats[len(c_train):]
print(name, "clips", len(c_train), "loaded", round(time.time() - t0), flush=True)
soft = None
if teacher:
    from edgeloop.train import kws_teacher as K
    soft = K.soft_targets(K.Teacher(teacher).probabilities(c_train), classes, recipe.teacher_temperature)
    print(name, "teacher done", round(time.time() - t0), flush=True)
model, tflite, conv = fit_and_quantize(x_train, y_train, len(classes), recipe, None, soft)
Path(f"/tmp/kd/{name}.tflite").write_bytes(tflite); Path(f"/tmp/kd/{name}.elm").write_bytes(conv.data)
sc = S.clip_scores(tflite, x_test)
top, thr = S.summary(sc, y_test, classes, 0), S.summary(sc, y_test, classes, 200)
ins = _instructions(conv)
out = {"name": name, "macs": conv.macs, "elm": len(conv.data), "arena": conv.arena_size, "instructions": ins,
       "top1": top, "at200": thr, "thresholds": S.threshold_table(sc, y_test, classes), "seconds": time.time() - t0}
Path(f"/tmp/kd/{name}.json").write_text(json.dumps(out, indent=1))
pc = lambda v: f"{100*v:.1f}"
print(name, "MACs", conv.macs, "elm", len(conv.data), "arena", conv.arena_size, "instr", ins.get("instructions"),
      "| balanced", pc(top["balanced_accuracy"]), "/", pc(thr["balanced_accuracy"]),
      "| fk unknown", pc(top["false_keyword_unknown"]), "/", pc(thr["false_keyword_unknown"]),
      "noise", pc(top["false_keyword_silence"]), "/", pc(thr["false_keyword_silence"]),
      "| per class", {k: pc(v["accuracy"]) for k, v in top["per_class"].items()}, flush=True)
