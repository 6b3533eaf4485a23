"""The whole loop from the commands alone, on virtual boards with emulated sensors (issue 13).

Every step is `python -m edgeloop.cli ...` in its own process, as a user types it:
`sim --imu TABLE --take FILE` (the profile's MPU-6050 fed at register level) → `deploy --model`
→ `monitor --window` → `export --label-from` → `train gesture` on the exports and the original
data → `deploy` of the new model → `monitor` over the new model's held-out takes. This file
only reads what the commands wrote (SQLite log, model.json, the tables with pyarrow) and checks
it against references that are not the code under test: TFLM on each logged window (CNN), the
trees evaluator and the card's emlearn-C predictions (trees), TFLM's audio preprocessor and
keyword.tflite on the audio the board streamed (keywords). The labels CSV is what a user's
labelling would be: each take's known class.
"""

from __future__ import annotations

import json
import sqlite3
import wave
from pathlib import Path

import numpy as np
import pytest

from edgeloop import modelinfo
from tests.tools import cli_process as cli
from tests.tools.gesture_reference import reference, table_take
from tests.tools.kws_reference import recognize, tflm_stream_features
from tests.tools.paths import REPO, SHARED_DATA

pytestmark = [pytest.mark.slow, pytest.mark.sim, pytest.mark.tf]

MODELS = REPO / "models"
GESTURES = SHARED_DATA / "gestures" / "cgestures.parquet"
CLIPS = SHARED_DATA / "tflm" / "micro_speech"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from edgeloop.sim import node_status

    ok, why = node_status()
    if not ok:
        pytest.skip(f"virtual board unavailable: {why}")
    pytest.importorskip("tflite_micro")
    if not GESTURES.exists():
        pytest.skip(f"shared test data not found at {GESTURES}")
    run = tmp_path_factory.mktemp("loop-env")
    # one compile cache for the module: every board gets the same firmware
    return cli.env(EDGELOOP_CACHE_DIR=run / "cache", EDGELOOP_RUNTIME_DIR=run / "run")


def held_out(info: modelinfo.ModelInfo) -> list[tuple[Path, str]]:
    """(table, take) for each name in model.json's split.test, the table found among data.tables."""
    tables = [Path(t) if Path(t).is_absolute() else REPO / t for t in info.data["tables"]]
    out = []
    for name in info.split["test"]:
        rel, take = name.rsplit(":", 1)
        table = next(t for t in tables if t.as_posix().endswith(rel))
        out.append((table, take))
    return out


def logged(db: Path, session: int) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT id, window_index, top, scores, window, window_channels FROM inferences "
                           "WHERE session_id = ? ORDER BY id", (session,)).fetchall()
    finally:
        con.close()


def last_session(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT max(id) FROM sessions").fetchone()[0]
    finally:
        con.close()


def play(model_dir: Path, takes, db: Path, env: dict, flash: Path) -> list[dict]:
    """Each take on its own virtual board (one flash folder, so the firmware goes over once):
    sim → deploy → monitor --window --count <the take's windows>: board work, not host time (a
    busy machine slows the board below its sensor's rate, and a time limit cut the take short).
    Returns per take: its frames, label and the session's rows."""
    info = modelinfo.load(model_dir)
    played = []
    for table, take in takes:
        frames, label = table_take(table, take)
        windows = (len(frames) - info.window) // info.hop + 1
        with cli.Sim("--board", "rp2040", "--flash", flash, "--imu", table, "--take", take, env=env) as sim:
            cli.run("deploy", "--port", sim.port, "--model", model_dir, env=env)
            cli.run("monitor", "--port", sim.port, "--window", "--count", windows, "--db", db, env=env)
        played.append({"take": take, "table": table, "frames": frames, "label": label,
                       "rows": logged(db, last_session(db))})
    return played


def check_round(model_dir: Path, played: list[dict]) -> dict:
    """Every logged inference against the reference on its logged window; then per-class accuracy
    over the windows inside one take, against the card, window by window where the board's window
    is the card's window. Returns counts for the report."""
    info = modelinfo.load(model_dir)
    ref = reference(model_dir)
    ev = info.evaluation
    card_pred = ev["predictions"]["int8"]  # TFLM (CNN) / emlearn's C (trees), computed at training time
    w, hop = info.window, info.hop
    per = {c: [0, 0] for c in info.classes}  # board: right, scored
    card = {c: [0, 0] for c in info.classes}  # the card on the same windows
    exact = checked = 0
    for p in played:
        frames, n = p["frames"], len(p["frames"])
        # the card's windows of this take, in order (evaluation.takes names each window's take)
        mine = [j for j, t in enumerate(ev["takes"]) if t.endswith(":" + p["take"])]
        assert mine, p["take"]
        take_frames = {tuple(f) for f in frames.tolist()}
        for _id, k, top, scores, blob, ch in p["rows"]:
            window = np.frombuffer(blob, "<i2").reshape(w, ch)
            # what the emulated chip gave is the take's frames (some repeated or lost when late)
            assert all(tuple(f) in take_frames for f in window.tolist()), (p["take"], k)
            ref.check_row(window, top, scores)  # every logged inference, inside a take or not
            checked += 1
            s = (k - 1) * hop
            if s + w > n:
                continue  # straddles the take's loop: checked, not scored
            j = k - 1
            assert j < len(mine), (p["take"], k)
            per[p["label"]][1] += 1
            per[p["label"]][0] += info.classes[top] == p["label"]
            card[p["label"]][1] += 1
            card[p["label"]][0] += info.classes[card_pred[mine[j]]] == p["label"]
            if np.array_equal(window, frames[s:s + w]):
                exact += 1
                assert top == card_pred[mine[j]], (p["take"], k, top, card_pred[mine[j]])
    # Where the board's window is not the card's (the virtual board lost frames while the shared
    # host CPU was late: the emulated chip keeps 8 frames of slack), the board's prediction is
    # checked against the reference above but may differ from the card's: each such window can
    # move a class's count by one, no more.
    # With no such window, every class's count is the card's exactly.
    inexact = sum(v[1] for v in per.values()) - exact
    for c in info.classes:
        assert per[c][1] == card[c][1] and abs(per[c][0] - card[c][0]) <= inexact, (c, per[c], card[c])
        if card[c][1] == ev["windows_per_class"][c]:  # all the card's windows of the class: its own figure
            assert card[c][0] == round(ev["per_class"]["int8"][c] * card[c][1]), c
    return {"checked": checked, "scored": sum(v[1] for v in per.values()), "exact": exact, "per_class": per,
            "card": card}


def labels_csv(played: list[dict], out: Path) -> Path:
    """What a user's labelling is: every logged window of a take gets the take's class."""
    lines = ["id,label"] + [f"{r[0]},{p['label']}" for p in played for r in p["rows"]]
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize("model", ["gesture", "gesture_trees"])
def test_the_loop_from_the_commands(model, env, tmp_path):
    first = MODELS / model
    info = modelinfo.load(first)
    flash = tmp_path / "flash"

    # Round 1: the shipped model over its own held-out takes.
    db1 = tmp_path / "round1.sqlite"
    played1 = play(first, held_out(info), db1, env, flash)
    r1 = check_round(first, played1)
    assert r1["scored"] == info.evaluation["windows"]  # every window of the card was seen once

    # Export with the takes' known classes, then train on the original data plus the exports.
    data = tmp_path / "data"
    data.mkdir()
    (data / GESTURES.name).symlink_to(GESTURES.resolve())
    cli.run("export", "--db", db1, "--format", "parquet", "--out", data / "round1",
            "--label-from", labels_csv(played1, tmp_path / "labels.csv"), env=env)
    second = tmp_path / "model2"
    kind = ["--model", "trees"] if info.kind == "trees" else ["--epochs", "8"]
    cli.run("train", "gesture", "--data", data, "--out", second, *kind, "--no-board-time", env=env)
    info2 = modelinfo.load(second)
    assert any("round1/windows.parquet:" in t for t in info2.split["train"] + info2.split["test"])

    # Round 2: the new model over its own held-out takes (exported ones included).
    played2 = play(second, held_out(info2), tmp_path / "round2.sqlite", env, flash)
    r2 = check_round(second, played2)
    assert r2["scored"] == info2.evaluation["windows"]
    print(f"{model}: round 1 {r1}; round 2 {r2}")


def test_keyword_from_the_commands(env, tmp_path):
    """`sim --mic yes.wav` → `deploy --model models/keyword` → `monitor --window --plot`.

    The board's microphone loses audio while the model runs (~1 s per inference on the
    virtual board, far slower than real time), so the audio the app heard is not the clip
    played straight: `--plot` streams every sample the app read (with its index), and
    TFLM's preprocessor runs over exactly those, from the app's start, as the board's front
    end does. The logged window (the last 30 ms of audio) is those samples at window k.
    What the app hears is runs of the clip with gaps wherever an inference ran, so whether
    a "yes" survives depends on the host's load: detections are checked against
    RecognizeCommands over TFLM's outputs, whatever they are.
    """
    from tflite_micro.python.tflite_micro import runtime

    clip = CLIPS / "yes_1000ms.wav"
    if not clip.exists():
        pytest.skip(f"shared test data not found at {clip}")
    with wave.open(str(clip)) as wf:
        pcm = np.frombuffer(wf.readframes(wf.getnframes()), "<i2")
    kw = MODELS / "keyword"
    info = modelinfo.load(kw)
    db = tmp_path / "kw.sqlite"
    # esp32s3: on the rp2040 profile the keyword app with the emulated I2S microphone does not
    # fit the virtual board's heap (see docs/deploy.md, "the loop with the commands alone").
    with cli.Sim("--board", "esp32s3", "--flash", tmp_path / "flash", "--mic", clip, env=env) as sim:
        cli.run("deploy", "--port", sim.port, "--model", kw, env=env)
        cli.run("monitor", "--port", sim.port, "--window", "--plot", "--seconds", 8, "--db", db, env=env)
    con = sqlite3.connect(db)
    session = con.execute("SELECT max(id) FROM sessions").fetchone()[0]
    blocks = con.execute("SELECT sample_index, data FROM samples WHERE session_id = ? ORDER BY sample_index",
                         (session,)).fetchall()
    rows = con.execute("SELECT window_index, top, scores, window FROM inferences WHERE session_id = ? ORDER BY id",
                       (session,)).fetchall()
    detections = con.execute("SELECT time_ms, class_name, score FROM detections WHERE session_id = ? ORDER BY id",
                             (session,)).fetchall()
    con.close()
    heard = np.concatenate([np.frombuffer(d, "<i2") for _, d in blocks])
    assert [i for i, _ in blocks] == list(np.cumsum([0] + [len(d) // 2 for _, d in blocks[:-1]]))  # no gap
    # what the app heard is the clip, in runs (the emulated I2S keeps its buffer, loses the rest)
    looped = np.concatenate([pcm, pcm])
    for start in range(0, len(heard) - 320, 320):
        hop = heard[start:start + 320]
        where = np.flatnonzero(looped[:len(pcm)] == hop[0])
        assert any(np.array_equal(hop, looped[o:o + 320]) for o in where), start

    feats = tflm_stream_features(heard)  # TFLM's front end over what the app heard, from its start
    frames = len(feats)
    model = runtime.Interpreter.from_file(str(kw / info.model["reference"]))
    shape = tuple(model.get_input_details(0)["shape"])
    scored = [r for r in rows if r[0] <= frames]
    assert len(scored) >= 3, rows
    outputs = []
    for k, top, scores, blob in scored:
        assert np.array_equal(np.frombuffer(blob, "<i2"), heard[(k - 1) * 320:(k - 1) * 320 + 480]), k
        model.set_input(feats[k - 49:k].reshape(shape), 0)
        model.invoke()
        q = model.get_output(0).reshape(-1).astype(np.int64)
        assert top == int(np.argmax(q)), k
        assert np.all(np.abs(np.array(json.loads(scores)) - (q + 128) / 256) < 1 / 512), k
        outputs.append(q + 128)
    # The board's MSG_DETECTION frames = RecognizeCommands over TFLM's outputs at the stream's times.
    kws = info.kws
    ref = [(t, info.classes[c], sc) for t, c, sc in recognize(
        [(k - 1) * 20 + 30 for k, *_ in scored], np.array(outputs, np.uint8), average_ms=kws["average_ms"],
        threshold=kws["threshold"], suppression_ms=kws["suppression_ms"])
        if info.classes[c] not in ("silence", "unknown")]
    assert [(t, c, round(sc * 255)) for t, c, sc in detections if t <= ref_end(scored)] == ref
    # A "yes" only when the chopped audio still holds one (measured: 1 of 2 runs; see the docstring).
    assert all(c == "yes" for _, c, _ in ref[:1]), ref
    print(f"keyword: {len(scored)} inferences equal to TFLM, detections {detections}")


def test_keyword_kept_windows_are_what_the_model_heard(env, tmp_path):
    """`deploy --model models/keyword --keep-random 1` → `monitor --plot --db`: a keyword model's kept
    window is its input, the second of features it ran on (MSG_KEPT layout 2, int8), not 30 ms of
    audio. Checked against TFLM's own front end over the audio the app heard (streamed with
    --plot), for every kept window of this run, live or shipped from the flash ring."""
    clip = CLIPS / "yes_1000ms.wav"
    if not clip.exists():
        pytest.skip(f"shared test data not found at {clip}")
    kw = MODELS / "keyword"
    db = tmp_path / "kw.sqlite"
    with cli.Sim("--board", "esp32s3", "--flash", tmp_path / "flash", "--mic", clip, env=env) as sim:
        out = cli.run("deploy", "--port", sim.port, "--model", kw, "--keep-random", "1", "--keep-seed", "1", env=env)
        assert "capture" in out, out
        cli.run("monitor", "--port", sim.port, "--window", "--plot", "--seconds", 8, "--db", db, env=env)
    con = sqlite3.connect(db)
    session = con.execute("SELECT max(id) FROM sessions").fetchone()[0]
    blocks = con.execute("SELECT data FROM samples WHERE session_id = ? ORDER BY sample_index", (session,)).fetchall()
    # This run's kept windows: joined to an inference frame the board sent (seq set); a ring record
    # from a run before this one has an inference row made from itself instead.
    kept = con.execute(
        "SELECT k.window_index, k.window_channels, k.window, k.features, k.source, k.rule, k.model_hash "
        "FROM kept k JOIN inferences i ON i.id = k.inference_id "
        "WHERE k.session_id = ? AND i.seq IS NOT NULL ORDER BY k.id", (session,)).fetchall()
    hello_hash = con.execute("SELECT model_hash FROM sessions WHERE id = ?", (session,)).fetchone()[0]
    con.close()
    heard = np.concatenate([np.frombuffer(d, "<i2") for (d,) in blocks])
    feats = tflm_stream_features(heard)
    checked = [k for k in kept if k[0] <= len(feats)]
    assert len(checked) >= 2, kept
    for k, channels, blob, features, source, rule, model_hash in checked:
        assert (channels, features, rule) == (40, 1, "random"), (k, source)
        assert model_hash == hello_hash, k
        np.testing.assert_array_equal(np.frombuffer(blob, "<i2"), feats[k - 49:k].reshape(-1).astype(np.int16),
                                      err_msg=f"kept window {k} ({source})")
    print(f"keyword kept: {len(checked)} windows equal to TFLM's features, sources "
          f"{sorted({k[4] for k in checked})}")


def ref_end(scored) -> int:
    """Stream time (ms) of the last inference checked: later detections have no outputs here."""
    return (scored[-1][0] - 1) * 20 + 30
