"""`edgeloop retrain --from <keyword model> --recordings DIR` on real speech, checked outside the retrain code.

Parent: a small keyword model (yes, no) trained here by `train keyword`'s library from synthetic
speech. The user's recordings: real Speech Commands clips (../shared/data/speech_commands, FLAC)
laid out as a user would, one folder per word of 16 kHz WAVs, converted by sox. Checks, none of
which reuse retrain's code:
- the held-out recordings are whole speakers, per the data set's own MANIFEST (not the file names);
- the parent and candidate figures on both held-out sets equal TFLM running each model's int8
  .tflite over features from TFLM's own audio preprocessor (not the board front end retrain uses);
- the parent's figure on its held-out voices equals what its model.json recorded at training time;
- the lineage hashes are recomputed with hashlib from the files;
- promotion follows the rule applied to those independent figures; a worse candidate gets exit 3
  and nothing written, and --force writes it and says so.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import shutil
import subprocess
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from edgeloop import modelinfo
from tests.tools.cli_result import invoke, one_line
from tests.tools.paths import REPO
from tests.tools.runtime_helpers import DATA, need

MS = DATA / "tflm" / "micro_speech"
SC = DATA / "speech_commands"
HELD = "held-out user recordings"
PARENT_SET = "parent held-out voices"

needs_tools = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"),
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed (apt-get install sox)"),
    pytest.mark.skipif(not (SC / "MANIFEST.tsv").exists(), reason=f"shared test data not found at {SC}"),
]


def manifest() -> list[dict]:
    with open(SC / "MANIFEST.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def user_folder(dest: Path, speakers: int, swap: bool = False) -> dict[str, str]:
    """Up to two clips of yes, no and other words (unknown) of the first `speakers` speakers who said
    both yes and no, as <word>/<file>.wav; returns file -> speaker (from the MANIFEST). `swap`: a
    careless user's folders, yes and no the wrong way round."""
    by: dict = defaultdict(lambda: defaultdict(list))
    rows = manifest()
    for r in rows:
        by[r["speaker"]][r["word"]].append(r)
    chosen = sorted(s for s, w in by.items() if s != "-" and w.get("yes") and w.get("no"))[:speakers]
    owner = {}
    for s in chosen:
        for word in ("yes", "no", "unknown"):
            for r in sorted(by[s].get(word, []), key=lambda r: r["file"])[:2]:
                folder = {"yes": "no", "no": "yes"}.get(word, word) if swap else word
                (dest / folder).mkdir(parents=True, exist_ok=True)
                out = dest / folder / (Path(r["file"]).stem + ".wav")
                subprocess.run(["sox", str(SC / r["file"]), "-b", "16", str(out)], check=True)
                pcm = read_pcm(out)
                assert hashlib.sha256(pcm.astype("<i2").tobytes()).hexdigest() == r["sha256_pcm16"]
                owner[f"{folder}/{out.name}"] = s
    return owner


def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as f:
        assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.int16)


def tflm_features(clip: np.ndarray) -> np.ndarray:
    from tests.host.train.test_train_keyword import tflm_clip_features

    return tflm_clip_features(np.pad(clip, (0, max(0, 16000 - len(clip))))[:16000])


def tflm_accuracy(tflite: Path, feats: list[np.ndarray], labels: list[int]) -> float:
    from tests.tools.runtime_helpers import tflm, tflm_run

    it = tflm(tflite)
    pred = [int(np.argmax(tflm_run(it, f.reshape(1, 49, 40, 1)))) for f in feats]
    return float(np.mean(np.array(pred) == np.array(labels)))


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    for m in needs_tools:
        if m.args[0]:
            pytest.skip(m.kwargs["reason"])
    from edgeloop.train.keyword import KeywordRecipe, train_keyword

    tmp = tmp_path_factory.mktemp("kwretrain")
    recipe = KeywordRecipe(words=["yes", "no"], voices=8, seed=0, epochs=20, renditions=2, test_renditions=1,
                           unknown_per_voice=2, augment=2, silence_fraction=0.3)
    train_keyword(recipe, tmp / "parent", data_dir=need(MS), cache_dir=tmp / "cache", jobs=2)
    return tmp


def retrain(tmp: Path, words: Path, out: Path, *extra):
    return invoke("retrain", "--from", tmp / "parent", "--recordings", words, "--out", out, "--data", MS,
                  "--cache", tmp / "cache", "--jobs", 2, *extra)


@pytest.mark.slow
@pytest.mark.tf
def test_keyword_retrain_from_real_recordings_matches_tflm_and_records_its_lineage(parent):
    tmp = parent
    words = tmp / "words"
    owner = user_folder(words, speakers=10)
    out = tmp / "keyword-2"
    r = retrain(tmp, words, out, "--force")  # --force: written whatever the verdict, which is checked below
    assert r.exit_code == 0, r.output
    info = modelinfo.load(out)
    lin, split = info.lineage, info.split
    rows = {(x["set"], x["runner"]): x for x in lin["revalidation"]["rows"]}

    # whole speakers held out, by the MANIFEST's speaker column
    test_files, train_files = split["recordings"]["test"], split["recordings"]["train"]
    assert sorted(test_files + train_files) == sorted(owner)
    assert test_files and train_files
    assert not {owner[f] for f in test_files} & {owner[f] for f in train_files}

    # held-out user recordings: TFLM's preprocessor + TFLM on each model's .tflite
    classes = info.classes
    feats = [tflm_features(read_pcm(words / f)) for f in test_files]
    labels = [classes.index(f.split("/")[0]) for f in test_files]
    figures = {}
    for who, folder in (("parent", tmp / "parent"), ("candidate", out)):
        figures[(HELD, who)] = tflm_accuracy(folder / "keyword.tflite", feats, labels)
        assert rows[(HELD, "int8 TFLite (TFLM)")][who] == pytest.approx(figures[(HELD, who)])
        assert rows[(HELD, "edgeloop")][who] == pytest.approx(figures[(HELD, who)])  # bit-exact with TFLM
    assert rows[(HELD, "edgeloop")]["windows"] == len(test_files)

    # the parent's held-out voices: made again from its recipe, features by TFLM's preprocessor
    from edgeloop.train import keyword_data as D
    from edgeloop.train.keyword import recipe_from_json

    p_recipe = recipe_from_json(json.loads((tmp / "parent" / "recipe.json").read_text())["recipe"])
    _, (clips, y, _), _, _ = D.build_clips(p_recipe, D.load_backgrounds(MS), None)
    feats = [tflm_features(c) for c in clips]
    for who, folder in (("parent", tmp / "parent"), ("candidate", out)):
        figures[(PARENT_SET, who)] = tflm_accuracy(folder / "keyword.tflite", feats, list(y))
        assert rows[(PARENT_SET, "int8 TFLite (TFLM)")][who] == pytest.approx(figures[(PARENT_SET, who)])
        assert rows[(PARENT_SET, "edgeloop")][who] == pytest.approx(figures[(PARENT_SET, who)])
    recorded = modelinfo.load(tmp / "parent").evaluation["held-out voices"]["overall"]["edgeloop"]
    assert rows[(PARENT_SET, "edgeloop")]["parent"] == pytest.approx(recorded)
    assert rows[(PARENT_SET, "float (TensorFlow)")]["parent"] is None  # the parent's Keras model is not kept
    assert rows[(PARENT_SET, "float (TensorFlow)")]["candidate"] is not None

    # the promotion rule, applied to the independent figures
    refused = any(figures[(s, "candidate")] < figures[(s, "parent")] - 0.02 for s in (HELD, PARENT_SET))
    assert lin["promoted"] == (not refused) and lin["forced"] == refused
    assert ("FORCED" if refused else "PROMOTED") in r.output

    # lineage hashes, recomputed
    assert lin["parent"]["model_hash"] == hashlib.sha256((tmp / "parent" / "keyword.elm").read_bytes()).hexdigest()[:16]
    assert lin["parent"]["model_json_sha256"] == hashlib.sha256((tmp / "parent" / "model.json").read_bytes()).hexdigest()
    rec = next(d for d in lin["data"] if d["kind"] == "recordings")
    h = hashlib.sha256()
    for f in sorted(owner):
        h.update(f"{f}\t{hashlib.sha256((words / f).read_bytes()).hexdigest()}\n".encode())
    assert rec["sha256"] == h.hexdigest() and rec["files"] == len(owner)
    for d in (d for d in lin["data"] if d["kind"] == "background recordings"):
        assert d["sha256"] == hashlib.sha256(Path(d["path"]).read_bytes()).hexdigest()
    syn = next(d for d in lin["data"] if d["kind"] == "synthetic speech")
    assert syn["seed"] == 0 and lin["seeds"] == {"data": 0, "recordings_split": 0, "training": 0}
    # the printed table says the same
    line = next(ln for ln in r.output.splitlines() if ln.startswith(HELD) and "edgeloop" in ln)
    assert f"{100 * figures[(HELD, 'candidate')]:.1f} %" in line
    print("\n" + "\n".join(ln for ln in r.output.splitlines() if ln.startswith(("set ", HELD, PARENT_SET))))
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["recipe"]["words"] == ["yes", "no"] and recipe["training_seed"] == 0
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Retrained" in card and lin["parent"]["model_hash"] in card and HELD in card


@pytest.mark.slow
@pytest.mark.tf
def test_a_worse_keyword_candidate_is_refused_with_exit_3_and_nothing_written_unless_forced(parent):
    tmp = parent
    words = tmp / "swapped"
    user_folder(words, speakers=20, swap=True)  # yes filed as no and no as yes
    out = tmp / "worse"
    r = retrain(tmp, words, out, "--epochs", 1)  # a careless user and a short run
    assert r.exit_code == 3, r.output
    last = [ln for ln in r.output.splitlines() if ln.strip()][-1]
    assert last.startswith("edgeloop: refused: ") and "--force" in last
    assert any(ln.startswith(PARENT_SET) for ln in r.output.splitlines())  # the table came first
    assert not out.exists() and not [p for p in tmp.iterdir() if p.name.startswith(".worse")]
    r = retrain(tmp, words, out, "--epochs", 1, "--force")
    assert r.exit_code == 0 and "FORCED" in r.output
    lin = modelinfo.load(out).lineage
    assert lin["forced"] and not lin["promoted"] and lin["refused_because"]
    assert "--force" in json.loads((out / "recipe.json").read_text())["command"]


# Refusals: one line, nothing written, before any heavy work (the shipped keyword model as parent).
KEYWORD = REPO / "models" / "keyword"


def wav(path: Path, rate=16000, channels=1, n=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.zeros(n * channels, "<i2").tobytes())


@pytest.mark.parametrize("make, needles", [
    (lambda d: wav(d / "maybe" / "a_nohash_0.wav"), ["'maybe'", "not a class", "silence, unknown, yes, no, up, down"]),
    (lambda d: wav(d / "yes" / "a_nohash_0.wav", rate=44100), ["44100 Hz", "16000 Hz mono"]),
    (lambda d: wav(d / "yes" / "a_nohash_0.wav", channels=2), ["2 channel", "16000 Hz mono"]),
    (lambda d: (d / "yes").mkdir(parents=True) or (d / "yes" / "a_nohash_0.wav").write_bytes(b"RIFF junk"),
     ["not a readable WAV"]),
    (lambda d: (d / "yes").mkdir(parents=True) or (d / "yes" / "a.mp3").write_bytes(b"x"), ["only .wav"]),
    (lambda d: wav(d / "yes" / "a_nohash_0.wav") or wav(d / "no" / "a_nohash_1.wav"), ["too few speakers"]),
    (lambda d: d.mkdir(), ["no recordings"]),
])
def test_bad_recordings_are_refused_in_one_line_and_nothing_is_written(tmp_path, make, needles):
    words = tmp_path / "words"
    make(words)
    out = tmp_path / "out"
    line = one_line(invoke("retrain", "--from", KEYWORD, "--recordings", words, "--out", out, "--data", MS,
                           "--cache", tmp_path / "cache"))
    for n in needles:
        assert n in line, line
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_keyword_parent_wants_recordings_and_gesture_parent_wants_a_log(tmp_path):
    line = one_line(invoke("retrain", "--from", KEYWORD, "--out", tmp_path / "o"))
    assert "--recordings" in line
    line = one_line(invoke("retrain", "--from", KEYWORD, "--db", tmp_path / "log.sqlite", "--out", tmp_path / "o"))
    assert "no log at" in line
    line = one_line(invoke("retrain", "--from", REPO / "models" / "gesture_trees", "--recordings", tmp_path,
                           "--out", tmp_path / "o"))
    assert "--db" in line
    assert not (tmp_path / "o").exists()


def test_help_teaches_both_kinds_of_retraining():
    r = invoke("retrain", "--help")
    assert r.exit_code == 0
    for needle in ("--from models/gesture --db log.sqlite", "--from models/keyword --recordings", "_nohash_",
                   "16 kHz", "exit code 3", "--force", "by speaker", "by session"):
        assert needle in " ".join(r.output.split()), needle


def keyword_log(db: Path, model: Path, speakers: int) -> dict[int, tuple[str, np.ndarray]]:
    """What `edgeloop monitor --window --plot` logs from a keyword board, made from real clips: one
    session per Speech Commands speaker, their clips back to back after 0.5 s of faint noise, streamed
    as 1,600-sample frames; an inference per window whose 49 frames are exactly one clip (window w,
    counted from 1 as the app does, ends at sample 320 (w - 1) + 480), carrying that last 30 ms frame, labelled with the clip's word; one
    more session without raw samples (its labelled windows have no audio). Returns inference id ->
    (speaker, the clip as read from the data set)."""
    from edgeloop.log.labels import set_labels
    from edgeloop.log.store import Store

    info = modelinfo.load(model)
    h = hashlib.sha256((model / "keyword.elm").read_bytes()).hexdigest()[:16]
    folder = db.parent / "clips"
    owner = user_folder(folder, speakers)
    by_speaker: dict = defaultdict(list)
    for rel, spk in sorted(owner.items()):
        by_speaker[spk].append(rel)
    truth, labels = {}, {}
    rng = np.random.default_rng(7)
    with Store(db) as s:
        for k, (spk, rels) in enumerate(sorted(by_speaker.items()) + [("nosamples", by_speaker[min(by_speaker)][:2])]):
            s.begin_session(dict(rate_hz=16000, channels=1, window=480, hop=320, mode=2, scale=1.0, device_id=spk,
                                 board="rp2040", firmware="test", model_hash=h, sensor="mic", units="",
                                 classes=info.classes))
            pre = np.round(rng.normal(0, 3, 8000)).astype(np.int16)
            x = np.concatenate([pre] + [read_pcm(folder / r) for r in rels])
            if spk != "nosamples":
                for i in range(0, len(x), 1600):
                    s.add_samples(dict(sample_index=i, rate_hz=16000, channels=1, data=x[i:i + 1600].tolist()),
                                  i // 1600, i // 16, host_time=1.78e9 + k * 60 + i / 16000)
            s.flush()
            for j, rel in enumerate(rels):
                end = 8000 + 16000 * j + 15840
                w = (end - 480) // 320 + 1
                s.add_inference(dict(window_index=w, latency_us=1000, top=0, scores=[65535 // len(info.classes)] *
                                     len(info.classes), model_hash=h, window=x[end - 480:end].tolist(),
                                     window_channels=1), j, end // 16, host_time=1.78e9 + k * 60 + end / 16000)
                s.flush()
                rid = s.query("SELECT max(id) AS m FROM inferences")[0]["m"]
                labels[rid] = rel.split("/")[0]
                if spk != "nosamples":
                    truth[rid] = (spk, read_pcm(folder / rel))
    set_labels(db, labels, source="test")
    return truth


@pytest.mark.slow
@pytest.mark.tf
def test_keyword_retrain_from_labelled_logged_audio_splits_by_session_and_matches_tflm(parent):
    tmp = parent
    db = tmp / "log" / "log.sqlite"
    db.parent.mkdir()
    truth = keyword_log(db, tmp / "parent", speakers=8)
    out = tmp / "from-log"
    report = ["--report", tmp / "log" / "retrain.html"] if importlib.util.find_spec("matplotlib") else []
    r = invoke("retrain", "--from", tmp / "parent", "--db", db, "--out", out, "--data", MS,
               "--cache", tmp / "cache", "--jobs", 2, "--force", *report)
    assert r.exit_code == 0, r.output
    if report:  # the HTML page names the logged data set and both sets
        page = report[1].read_text()
        assert "labelled windows" in page and HELD in page and PARENT_SET in page
    info = modelinfo.load(out)
    lin, split = info.lineage, info.split
    test_ids = [int(f.split(":")[1]) for f in split["recordings"]["test"]]
    train_ids = [int(f.split(":")[1]) for f in split["recordings"]["train"]]
    assert sorted(test_ids + train_ids) == sorted(truth)  # the session without samples is left out
    assert test_ids and not {truth[i][0] for i in test_ids} & {truth[i][0] for i in train_ids}  # whole sessions
    logged = next(d for d in lin["data"] if d["kind"] == "labelled keyword audio")
    assert logged["windows"] == len(truth) and logged["left_out"] == 2
    rows = {(x["set"], x["runner"]): x for x in lin["revalidation"]["rows"]}
    feats = [tflm_features(truth[i][1]) for i in test_ids]  # the clips as the data set has them
    import sqlite3

    con = sqlite3.connect(db)
    lab = dict(con.execute("SELECT inference_id, label FROM labels").fetchall())
    y = [info.classes.index(lab[i]) for i in test_ids]
    for who, folder in (("parent", tmp / "parent"), ("candidate", out)):
        acc = tflm_accuracy(folder / "keyword.tflite", feats, y)
        assert rows[(HELD, "int8 TFLite (TFLM)")][who] == pytest.approx(acc)
        assert rows[(HELD, "edgeloop")][who] == pytest.approx(acc)
    # the hash of the logged audio, recomputed from the data set's clips (the second the model heard)
    hh = hashlib.sha256()
    for i in sorted(truth):
        hh.update(f"{i}\t{lab[i]}\n".encode())
        hh.update(np.pad(truth[i][1][:15840], (0, 160)).astype("<i2").tobytes())
    assert logged["sha256"] == hh.hexdigest()
    print("\n" + "\n".join(ln for ln in r.output.splitlines() if ln.startswith(("set ", HELD, PARENT_SET))))


def kept_log(db: Path, model: Path, speakers: int) -> dict[int, tuple[str, str, np.ndarray]]:
    """What a keyword board with capture rules logs (`deploy --keep-*`, `monitor --db`): per
    Speech Commands speaker one session, and per clip a kept window whose features are TFLM's
    front end over the clip (what the board's front end computes: tests/host/loop's
    test_keyword_kept_windows_are_what_the_model_heard checks that on the virtual board), labelled
    with the clip's word; no inference carries a window of its own. Returns inference id ->
    (speaker, word, features)."""
    from edgeloop.log.labels import set_labels
    from edgeloop.log.store import Store
    from edgeloop_fw import protocol as P

    info = modelinfo.load(model)
    h = hashlib.sha256((model / "keyword.elm").read_bytes()).hexdigest()[:16]
    folder = db.parent / "kept-clips"
    owner = user_folder(folder, speakers)
    truth, labels = {}, {}
    with Store(db) as s:
        for k, spk in enumerate(sorted(set(owner.values()))):
            s.begin_session(dict(rate_hz=16000, channels=1, window=480, hop=320, mode=2, scale=1.0, device_id=spk,
                                 board="esp32s3", firmware="test", model_hash=h, sensor="mic", units="",
                                 classes=info.classes))
            for j, rel in enumerate(sorted(r for r, o in owner.items() if o == spk)):
                feats = tflm_features(read_pcm(folder / rel)).astype(np.int8)
                scores = [65535 // len(info.classes)] * len(info.classes)
                kid = s.add_kept(dict(window_index=49 + 2 * j, latency_us=1000, t_ms=1000 * j, record=0,
                                      rule=P.RULE_RANDOM, top=0, scores=scores, model_hash=h, firmware="test",
                                      window_channels=40, window=feats.reshape(-1).tolist(), ring=False,
                                      features=True), j, 1000 * j, host_time=1.78e9 + k * 60 + j)
                rid = s.query("SELECT inference_id FROM kept WHERE id = ?", (kid,))[0]["inference_id"]
                labels[rid] = rel.split("/")[0]
                truth[rid] = (spk, labels[rid], feats)
    set_labels(db, labels, source="test")
    return truth


@pytest.mark.slow
@pytest.mark.tf
def test_keyword_retrain_from_labelled_kept_features_splits_by_session_and_matches_tflm(parent):
    tmp = parent
    db = tmp / "kept" / "log.sqlite"
    db.parent.mkdir()
    truth = kept_log(db, tmp / "parent", speakers=8)
    from edgeloop.log.labels import load_windows

    shown = {w.id: w for w in load_windows(db)}  # `edgeloop label` shows the features themselves
    assert set(shown) == set(truth) and all(w.features and w.raw.shape == (49, 40) for w in shown.values())
    out = tmp / "from-kept"
    r = invoke("retrain", "--from", tmp / "parent", "--db", db, "--out", out, "--data", MS,
               "--cache", tmp / "cache", "--jobs", 2, "--force")
    assert r.exit_code == 0, r.output
    info = modelinfo.load(out)
    lin, split = info.lineage, info.split
    test_ids = [int(f.split(":")[1]) for f in split["recordings"]["test"]]
    train_ids = [int(f.split(":")[1]) for f in split["recordings"]["train"]]
    assert all(f.startswith("kept:") for f in split["recordings"]["test"] + split["recordings"]["train"])
    assert sorted(test_ids + train_ids) == sorted(truth)
    assert test_ids and not {truth[i][0] for i in test_ids} & {truth[i][0] for i in train_ids}  # whole sessions
    kept = next(d for d in lin["data"] if d["kind"] == "labelled kept keyword features")
    assert kept["windows"] == len(truth) and sorted(kept["ids"]) == sorted(truth)
    rows = {(x["set"], x["runner"]): x for x in lin["revalidation"]["rows"]}
    feats = [truth[i][2] for i in test_ids]
    y = [info.classes.index(truth[i][1]) for i in test_ids]
    for who, folder in (("parent", tmp / "parent"), ("candidate", out)):
        acc = tflm_accuracy(folder / "keyword.tflite", feats, y)
        assert rows[(HELD, "int8 TFLite (TFLM)")][who] == pytest.approx(acc)
        assert rows[(HELD, "edgeloop")][who] == pytest.approx(acc)
    hh = hashlib.sha256()  # the lineage hash, recomputed from TFLM's features and the labels
    for i in sorted(truth):
        hh.update(f"{i}\t{truth[i][1]}\n".encode())
        hh.update(truth[i][2].astype("<i2").tobytes())
    assert kept["sha256"] == hh.hexdigest()
    print("\n" + "\n".join(ln for ln in r.output.splitlines() if ln.startswith(("set ", HELD, PARENT_SET))))


def test_labelled_keyword_windows_without_their_audio_are_one_line(tmp_path):
    from edgeloop.log.labels import set_labels
    from edgeloop.log.store import Store

    db = tmp_path / "log.sqlite"
    info = modelinfo.load(KEYWORD)
    with Store(db) as s:  # monitor --window without --plot: inferences carry their 30 ms frame, no samples
        s.begin_session(dict(rate_hz=16000, channels=1, window=480, hop=320, mode=2, scale=1.0, device_id="d1",
                             board="rp2040", firmware="test", model_hash="0" * 16, sensor="mic", units="",
                             classes=info.classes))
        for w in range(3):
            s.add_inference(dict(window_index=w, latency_us=1, top=0, scores=[0] * 6, model_hash="0" * 16,
                                 window=[w] * 480, window_channels=1), w, w)
    set_labels(db, {1: "yes", 2: "no"}, source="test")
    line = one_line(invoke("retrain", "--from", KEYWORD, "--db", db, "--out", tmp_path / "o", "--data", MS,
                           "--cache", tmp_path / "c"))
    assert "no labelled keyword window" in line and "2 labelled without it" in line and "--plot" in line
    assert not (tmp_path / "o").exists()


def test_the_apps_own_keyword_stream_gives_back_the_second_each_inference_heard(tmp_path):
    """The board's app (CPython) in keyword mode over a replayed recording (TFLM's silence, yes,
    noise), streaming samples, inferences and their frames; logged by the host's own stream
    session; every inference labelled. Each rebuilt clip is the replayed audio of the 49 frames
    ending at the app's window (window w ends at sample 320 (w - 1) + 480), byte for byte."""
    import io

    from edgeloop.log.keyword_audio import labelled_clips
    from edgeloop.log.labels import set_labels
    from edgeloop.log.store import Store
    from edgeloop.sim import replay
    from edgeloop.stream.session import StreamSession
    from edgeloop_fw import protocol as P
    from edgeloop_fw.app import App
    from edgeloop_fw.serial_link import Output

    x = np.concatenate([read_pcm(need(MS / f"{n}_1000ms.wav"))[:16000] for n in ("silence", "yes", "noise")])
    path = replay.place_in_flash_dir(replay.Replay(x.reshape(-1, 1), 16000, "pcm16", "yes"), tmp_path)
    card = modelinfo.load(KEYWORD)
    cfg = {"sensor": {"kind": "replay", "file": str(path)}, "model": str(KEYWORD / "keyword.elm"),
           "classes": card.classes, "kws": dict(card.kws), "board": "test", "device_id": "t1"}

    class NoInput:
        def read(self):
            return -1

    wire = io.BytesIO()
    app = App(cfg, flags=P.STREAM_SAMPLES | P.STREAM_INFERENCE | P.STREAM_WINDOW, mode=P.MODE_INFER,
              out=Output(wire), inp=NoInput())
    app.begin()
    for _ in range(140):  # 2.8 s of 20 ms blocks: the replay does not loop
        app.step_block()
    db = tmp_path / "log.sqlite"
    with Store(db) as store:
        StreamSession(lambda: None, store)._handle(wire.getvalue())  # what monitor does with the bytes
        store.flush()
        rows = store.query("SELECT id, window_index FROM inferences ORDER BY id")
    assert len(rows) > 15
    set_labels(db, {r["id"]: "yes" for r in rows}, source="test")
    clips, missing = labelled_clips(db)
    assert missing == 0 and [c.id for c in clips] == [r["id"] for r in rows]
    at = {r["id"]: r["window_index"] for r in rows}
    for c in clips:
        end = 320 * (at[c.id] - 1) + 480
        assert np.array_equal(c.clip[:15840], x[end - 15840:end]) and not c.clip[15840:].any()
