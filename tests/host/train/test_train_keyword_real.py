"""`edgeloop train keyword --recordings`: real speech, split by speaker, scored on speakers it never heard.

References: MANIFEST.tsv's sha256 of each clip's decoded samples (the FLAC reader), the file names
(the speaker split), numpy power ratios (the noise level of augmented copies), hand-worked score
tables (kws_score), and for the end-to-end run TFLM: its own audio preprocessor recomputes the
held-out clips' features, its interpreter runs the .tflite, and the class-balanced accuracy is
recomputed here from those outputs and the folder names, then held to a floor far above chance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from tests.tools.runtime_helpers import DATA, need

SC = DATA / "speech_commands"
MS = DATA / "tflm" / "micro_speech"


def manifest() -> list[tuple[str, str, str, str]]:
    lines = need(SC / "MANIFEST.tsv").read_text().splitlines()[1:]
    return [tuple(ln.split("\t")) for ln in lines]


def make_slice(dst: Path, speakers: int, folders=("yes", "no", "left", "_unknown_"), silence: int = 60) -> Path:
    """A Speech Commands folder of symlinks: the first `speakers` speakers (sorted) in `folders`,
    and `silence` background clips."""
    rows = manifest()
    spk = sorted({s for _, _, s, _ in rows if s != "-"})[:speakers]
    keep = set(spk)
    n_sil = 0
    for f, _, s, _ in rows:
        folder = f.split("/")[0]
        if folder == "_silence_":
            if n_sil >= silence:
                continue
            n_sil += 1
        elif folder not in folders or s not in keep:
            continue
        (dst / folder).mkdir(parents=True, exist_ok=True)
        os.symlink(SC / f, dst / f)
    return dst


def test_flac_clips_decode_to_the_manifests_samples():
    import hashlib

    from edgeloop.train import real_speech as R

    rows = [r for r in manifest() if r[0].startswith(("yes/", "_unknown_/", "_silence_/"))][::97][:6]
    assert rows
    for f, _, _, sha in rows:
        x = R.read_clip(SC / f)
        assert len(x) == 16000
        assert hashlib.sha256(x.astype("<i2").tobytes()).hexdigest() == sha, f


def test_folders_map_to_classes_and_the_split_keeps_speakers_apart(tmp_path):
    from edgeloop.train import real_speech as R

    root = make_slice(tmp_path / "sc", 24)
    found = R.scan(root, ["yes", "no"])
    by_folder = {}
    for p, word, label, spk in found:
        by_folder.setdefault(p.parent.name, set()).add(label)
        if p.parent.name == "_unknown_":
            assert word == p.name.split("_")[0] and spk == p.stem.split("_nohash_")[0].split("_")[-1]
        elif p.parent.name != "_silence_":
            assert spk == p.name.split("_nohash_")[0]
    assert by_folder == {"yes": {2}, "no": {3}, "left": {1}, "_unknown_": {1}, "_silence_": {0}}
    clips = R.load(root, ["yes", "no"])
    for seed in range(3):
        train, test, tr_spk, te_spk = R.split(clips, 0.25, seed)
        assert len(train) + len(test) == len(clips)
        names_tr = {Path(c.rel).name.split("_nohash_")[0].split("_")[-1] for c in train if "_silence_" not in c.rel}
        names_te = {Path(c.rel).name.split("_nohash_")[0].split("_")[-1] for c in test if "_silence_" not in c.rel}
        assert names_tr and names_te and not names_tr & names_te
        assert set(te_spk) == names_te and 4 <= len(te_spk) <= 8
        assert any("_silence_" in c.rel for c in test) and any("_silence_" in c.rel for c in train)


def test_augmented_copies_hold_the_noise_level_asked_for():
    from edgeloop.train import real_speech as R

    rng = np.random.default_rng(5)
    t = np.arange(16000)
    word = (8000 * np.sin(2 * np.pi * 440 * t / 16000) * (np.abs(t - 8000) < 3000)).astype(np.int16)
    noise = rng.normal(0, 2000, 16000).astype(np.int16)
    for snr in (0.0, 10.0, 30.0):
        a = word.astype(np.float64) * 0.7
        mixed = R.augment_noise(a, noise.astype(np.float64), snr)
        got = 10 * np.log10(np.mean(a ** 2) / np.mean((mixed - a) ** 2))
        assert abs(got - snr) < 0.01
    x = R.shift(word, 1600)
    assert np.array_equal(x[1600:], word[:-1600]) and not x[:1600].any()
    fast = R.speed(word.astype(np.float64), 1.1)  # the tone goes up by 10 %
    spec = np.abs(np.fft.rfft(fast))
    assert abs(np.argmax(spec) - 440 * 1.1) < 3


def test_scores_on_a_hand_worked_example():
    from edgeloop.train.kws_score import summary

    classes = ["silence", "unknown", "yes", "no"]
    y = np.array([0, 0, 1, 1, 1, 1, 2, 2, 3, 3])
    top = np.array([0, 2, 1, 1, 3, 1, 2, 2, 2, 3])  # top class of each clip
    sc = np.full((10, 4), 10)
    sc[np.arange(10), top] = [250, 150, 250, 250, 210, 250, 250, 180, 250, 250]
    s = summary(sc, y, classes, 0)
    assert [v["accuracy"] for v in s["per_class"].values()] == [0.5, 0.75, 1.0, 0.5]
    assert s["balanced_accuracy"] == pytest.approx(0.6875)
    assert s["false_keyword_silence"] == 0.5 and s["false_keyword_unknown"] == 0.25
    assert s["wrong_keyword"] == 0.25 and s["keyword_detected"] == 0.75
    t = summary(sc, y, classes, 200)  # 150 and 180 are not above 200: they become "unknown"
    assert t["false_keyword_silence"] == 0.0 and t["false_keyword_unknown"] == 0.25
    assert t["per_class"]["yes"]["accuracy"] == 0.5


def test_no_keyword_recordings_is_one_line(tmp_path):
    (tmp_path / "rec" / "_unknown_").mkdir(parents=True)
    result = CliRunner().invoke(cli, ["train", "keyword", "--words", "yes", "--recordings", str(tmp_path / "rec"),
                                      "--out", str(tmp_path / "o"), "--data", str(need(MS))])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output and len(lines) == 1
    assert "no recordings of yes" in lines[0]
    assert not (tmp_path / "o").exists()


# Chance is 25 % over silence / unknown / yes / no; a pipeline that scrambles labels, speakers or
# features lands near it. The slice (36 speakers, 27 trained) is ~2 % of the data a Speech
# Commands model usually sees, so the floor is far below the full model's figure.
FLOOR = 0.60


@pytest.mark.slow
@pytest.mark.tf
def test_a_small_slice_trains_fast_and_beats_the_floor_on_speakers_it_never_heard(tmp_path):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    from edgeloop.train import real_speech as R
    from tests.host.train.test_train_keyword import tflm_clip_features

    root = make_slice(tmp_path / "sc", 36)
    out = tmp_path / "kw"
    result = CliRunner().invoke(cli, [
        "train", "keyword", "--words", "yes,no", "--recordings", str(root), "--out", str(out),
        "--data", str(need(MS)), "--cache", str(tmp_path / "cache"), "--jobs", "2", "--copies", "1",
        "--epochs", "25"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "recipe.json").read_text())
    held = set(doc["held_out_speakers"])
    assert held
    # Independent of the code's split: from the file names, no held-out speaker is a trained one.
    clips = R.load(root, ["yes", "no"])
    test = [c for c in clips if c.speaker in held]
    ref = runtime.Interpreter.from_file(str(out / "keyword.tflite"))
    y, pred = [], []
    for c in test:
        ref.set_input(tflm_clip_features(c.audio).reshape(1, 49, 40, 1), 0)
        ref.invoke()
        pred.append(int(np.argmax(ref.get_output(0).reshape(-1))))
        y.append({"yes": 2, "no": 3}.get(c.rel.split("/")[0], 1))
    y, pred = np.array(y), np.array(pred)
    balanced = np.mean([(pred[y == k] == k).mean() for k in (1, 2, 3)])
    print(f"class-balanced accuracy on {len(held)} held-out speakers (TFLM, recomputed): {100 * balanced:.1f} %")
    assert balanced >= FLOOR, balanced
    info = json.loads((out / "model.json").read_text())
    acc = info["evaluation"]["held-out speakers"]
    assert acc["identical_to_tflm"] == acc["clips"] > len(test)  # + the held-out background clips
    scores = info["data"]["held_out"]
    st = scores["stream"]
    assert st["keywords"] == int((y >= 2).sum()) and st["detected"] + st["missed"] == st["keywords"]
    card = (out / "MODEL_CARD.md").read_text()
    for needle in ("class-balanced", "false keyword on unknown words", "Threshold trade-off", "Streaming",
                   "false alarms per hour", "instructions per inference"):
        assert needle in card
    assert "class-balanced accuracy" in result.output


def test_stream_features_fed_to_the_spotter_decide_as_feeding_the_samples(tmp_path):
    """The streaming score computes the front end once and pushes its rows; the board feeds samples.
    Same detections and same window outputs both ways (micro_speech over TFLM's recordings)."""
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed")
    from edgeloop.convert.int8 import convert_tflite
    from edgeloop.train import kws_score as S
    from edgeloop.train.speech import read_wav16k
    from tests.tools.kws_reference import tflm_stream_features

    speech = need(MS / "micro_speech_quantized.tflite")
    elm = convert_tflite(speech).data
    x = np.concatenate([read_wav16k(need(MS / f"{p}_1000ms.wav")) for p in
                        ("silence", "yes", "silence", "no", "noise", "yes", "silence")])
    feats = S.stream_features(x, tmp_path)
    assert np.array_equal(feats, tflm_stream_features(x))  # TFLM's preprocessor, stateful, the reference
    assert np.array_equal(S.stream_features(x, tmp_path), feats)  # cached
    classes = ["silence", "unknown", "yes", "no"]
    marks = [(2, 16000), (3, 48000), (2, 80000)]
    a = S.stream_score(S.TflmInterpreter(elm, speech.read_bytes()), classes, x, marks, {"every": 4})
    b = S.stream_score(S.TflmInterpreter(elm, speech.read_bytes()), classes, x, marks, {"every": 4}, features=feats)
    assert a == b and a["detections"] >= 2 and a["detected"] >= 2


def test_retrain_from_a_parent_trained_on_recordings_is_one_line(tmp_path):
    """The shipped model was trained on real recordings; retrain can only rebuild synthetic parent data."""
    import wave

    from edgeloop.train import real_speech as R

    rows = [r for r in manifest() if r[0].startswith("yes/")]
    spk = sorted({r[2] for r in rows})[:2]
    for f, _, s, _ in [next(r for r in rows if r[2] == s) for s in spk]:
        (tmp_path / "rec" / "yes").mkdir(parents=True, exist_ok=True)
        with wave.open(str(tmp_path / "rec" / "yes" / (Path(f).stem + ".wav")), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(R.read_clip(SC / f).astype("<i2").tobytes())
    result = CliRunner().invoke(cli, ["retrain", "--from", str(Path(__file__).parents[3] / "models" / "keyword"),
                                      "--recordings", str(tmp_path / "rec"), "--out", str(tmp_path / "o"),
                                      "--data", str(need(MS)), "--cache", str(tmp_path / "c")])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output and len(lines) == 1, result.output
    assert "trained on real recordings" in lines[0] and "--recordings" in lines[0]
    assert not (tmp_path / "o").exists()


def test_replayed_model_outputs_decide_as_the_spotter_running_the_model(tmp_path):
    """The spotter tuning runs the model once per two hops and replays those outputs through the
    spotter's decision for each setting; the board runs the model at each of its own inferences.
    Same detections (time, class, score) for every setting tried, over TFLM's recordings."""
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed")
    from array import array

    from edgeloop.convert.int8 import convert_tflite
    from edgeloop.train import kws_score as S
    from edgeloop.train import kws_tune as T
    from edgeloop.train.speech import read_wav16k
    from edgeloop_fw.kws import KeywordSpotter

    speech = need(MS / "micro_speech_quantized.tflite")
    tfl = speech.read_bytes()
    elm = convert_tflite(speech).data
    x = np.concatenate([read_wav16k(need(MS / f"{p}_1000ms.wav")) for p in
                        ("silence", "yes", "silence", "no", "noise", "yes", "no", "silence")])
    classes = ["silence", "unknown", "yes", "no"]
    feats = S.stream_features(x, tmp_path)
    outs = T.hop_outputs(tfl, feats, 2)
    interp = S.TflmInterpreter(elm, tfl)
    seen = 0
    for s in ({"every": 4}, {"every": 2, "average_ms": 300, "threshold": 128, "suppression_ms": 500,
                             "minimum_count": 1}, {"every": 4, "average_ms": 750, "threshold": 160}):
        found = []
        k = KeywordSpotter(S.TflmInterpreter(elm, tfl), classes, **s,
                           listener=lambda k, c: found.append((k.detected_ms, c, k.detected_score)) if c >= 0 else None)
        k.feed(array("h", x.astype("<i2").tobytes()))
        assert T.replay(interp, classes, outs, len(feats), s) == found
        seen += len(found)
    assert seen >= 4  # the settings are not all silent
    with pytest.raises(ValueError, match="step"):
        T.replay(interp, classes, outs, len(feats), {"every": 3})


def test_the_tuner_chooses_what_recognize_commands_over_tflm_scores_best(tmp_path):
    """The reference: TFLM's own preprocessor and interpreter over the stream, RecognizeCommands as
    TFLM describes it (tests/tools/kws_reference), detections matched to the spoken words here, and
    keywords detected - 2 x false alarms. The settings are ordered so that a tuner that ignores false
    alarms, one that only minimises them, or one that scores the wrong frames chooses another one."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed")
    from edgeloop.convert.int8 import convert_tflite
    from edgeloop.train import kws_score as S
    from edgeloop.train import kws_tune as T
    from edgeloop.train.speech import read_wav16k
    from tests.tools.kws_reference import recognize, tflm_stream_features

    speech = need(MS / "micro_speech_quantized.tflite")
    parts = ("silence", "yes", "silence", "no", "noise", "yes", "no", "silence")
    x = np.concatenate([read_wav16k(need(MS / f"{p}_1000ms.wav")) for p in parts])
    words = [(i * 1000, {"yes": 2, "no": 3}[p]) for i, p in enumerate(parts) if p in ("yes", "no")]
    settings = [{"every": 4, "average_ms": 1000, "threshold": 230, "suppression_ms": 1500, "minimum_count": 3},
                {"every": 2, "average_ms": 300, "threshold": 40, "suppression_ms": 500, "minimum_count": 1},
                {"every": 4, "average_ms": 300, "threshold": 230, "suppression_ms": 500, "minimum_count": 1},
                {"every": 2, "average_ms": 1000, "threshold": 200, "suppression_ms": 1500, "minimum_count": 1},
                {"every": 4, "average_ms": 300, "threshold": 245, "suppression_ms": 1500, "minimum_count": 3},
                {"every": 2, "average_ms": 1000, "threshold": 245, "suppression_ms": 1500, "minimum_count": 1}]

    feats = tflm_stream_features(x)
    model = runtime.Interpreter.from_file(str(speech))
    scores = {}
    for end in range(49, len(feats) + 1):
        model.set_input(feats[end - 49:end].reshape(1, 1960), 0)
        model.invoke()
        scores[end] = model.get_output(0).reshape(-1).astype(np.int64) + 128
    expected = []
    for s in settings:
        ends = list(range(49, len(feats) + 1, s["every"]))
        found = [(t, c) for t, c, _ in recognize([(e - 1) * 20 + 30 for e in ends], np.array([scores[e] for e in ends]),
                                                 s["average_ms"], s["threshold"], s["suppression_ms"], s["minimum_count"])
                 if c >= 2]
        used = set()
        for start, word in words:  # the word's own class, from its start to 750 ms after its end
            j = next((j for j, (t, c) in enumerate(found) if j not in used and c == word
                      and start <= t <= start + 1750), None)
            if j is not None:
                used.add(j)
        expected.append((len(used), len(found) - len(used)))
    assert len({d - 2 * f for d, f in expected}) >= 4 and max(d for d, _ in expected) == len(words)
    rank = sorted(range(len(settings)), key=lambda i: (-(expected[i][0] - 2 * expected[i][1]), -expected[i][0], i))

    stream = T.Stream(x, [(w, t * 16) for t, w in words], [])
    interp = S.TflmInterpreter(convert_tflite(speech).data, speech.read_bytes())
    rows = T.tune(interp, ["silence", "unknown", "yes", "no"], speech.read_bytes(), stream,
                  S.stream_features(x, tmp_path), settings)
    assert [r["settings"] for r in rows] == [settings[i] for i in rank]
    assert [(r["detected"], r["false_alarms"]) for r in rows] == [expected[i] for i in rank]
    assert rows[0]["settings"] == settings[3]


def test_the_tuning_stream_holds_only_training_speakers(tmp_path):
    """Each keyword in each stream is cut out (no background bed in this slice, so it is the clip's
    samples) and found among the folder's clips; its speaker, read from the file name here, must be
    a training speaker in the training stream and a held-out one in the held-out stream."""
    from edgeloop.train import kws_tune as T
    from edgeloop.train import real_speech as R

    root = make_slice(tmp_path / "sc", 24, silence=0)
    clips = R.load(root, ["yes", "no"])
    train, test, _, held = R.split(clips, 0.25, 0)
    speaker = {R.read_clip(p).tobytes(): p.name.split("_nohash_")[0].split("_")[-1]
               for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    st = T.streams(train, test, 0)
    n_kw = sum(c.label >= 2 for c in test)
    assert len(st["train"].marks) == len(st["held-out"].marks) == n_kw > 0
    for name, want_held in (("train", False), ("held-out", True)):
        x = st[name].x
        for _, at in st[name].marks:
            who = speaker[x[at:at + 16000].astype(np.int16).tobytes()]
            assert (who in held) == want_held, (name, who)


def test_settings_better_on_both_figures_are_found_by_hand():
    """Hand-worked rows: only settings with at least the reference's keywords and at most its false
    alarms, better on one of the two, whatever a false alarm is worth."""
    from edgeloop.train import kws_tune as T

    ref = {"detected": 10, "false_alarms": 5}
    rows = [{"detected": d, "false_alarms": f, "settings": {"n": i}}
            for i, (d, f) in enumerate([(10, 5), (12, 6), (9, 1), (10, 4), (11, 5), (11, 3), (20, 50), (10, 6)])]
    assert [r["settings"]["n"] for r in T.dominating(rows, ref)] == [5, 3, 4]
    # keywords - 2 x false alarms: 0, 0, 7, 2, 1, 5, -80, -2; on a tie the one with more keywords
    assert [r["settings"]["n"] for r in T.rank(rows, 2.0)] == [2, 5, 3, 4, 1, 0, 7, 6]
    assert [r["settings"]["n"] for r in T.rank(rows, 0.0)][:2] == [6, 1]


def test_tuning_on_another_folder_or_a_synthetic_model_is_one_line(tmp_path):
    """The training speakers come from recomputing the model's split: on a folder that splits
    otherwise they could be held-out ones, so the command refuses (and a model trained on
    espeak-ng speech has no training speakers at all)."""
    root = make_slice(tmp_path / "sc", 12)
    model = Path(__file__).parents[3] / "models" / "keyword"
    result = CliRunner().invoke(cli, ["train", "spotter", "--model", str(model), "--recordings", str(root)])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output and len(lines) == 1, result.output
    assert "split otherwise" in lines[0] and "speech_commands" in lines[0]
    syn = tmp_path / "syn"
    syn.mkdir()
    for f in ("model.json", "keyword.elm", "keyword.tflite"):
        (syn / f).write_bytes((model / f).read_bytes())
    doc = json.loads((model / "recipe.json").read_text())
    doc["recipe"]["recordings"] = None
    (syn / "recipe.json").write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["train", "spotter", "--model", str(syn), "--recordings", str(root)])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output and len(lines) == 1, result.output
    assert "not trained on real recordings" in lines[0]
