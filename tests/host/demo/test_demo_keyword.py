"""`edgeloop demo --keyword` end to end through the CLI, against TFLM and the SQLite log.

The recordings are read here with the `wave` module, run through TFLM's own
audio preprocessor (audio_preprocessor_int8.tflite, stateful over the
stream, as the board's front end is) and the shipped keyword.tflite under
TFLM; the board's inferences come from the SQLite log; the board's
detections (MSG_DETECTION frames, logged to their own table) are recomputed
with the independent RecognizeCommands of tests/firmware/cpython/test_kws.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop import modelinfo
from edgeloop.cli import cli
from tests.tools.kws_reference import tflm_stream_features
from tests.tools.paths import REPO

MS = REPO / ".." / "shared" / "data" / "tflm" / "micro_speech"
KEYWORD = REPO / "models" / "keyword"
LABEL = {"silence": "silence", "noise": "silence", "yes": "yes", "no": "no"}

pytestmark = [pytest.mark.sim, pytest.mark.slow]


@pytest.fixture
def ready():
    from edgeloop.sim import node_status

    ok, why = node_status()
    if not ok:
        pytest.skip(f"virtual board unavailable: {why}")
    if not (MS / "yes_1000ms.wav").exists():
        pytest.skip(f"shared test data not found at {MS}")
    return pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


def test_keyword_demo_summary_matches_the_log_and_tflm(ready, tmp_path, monkeypatch):
    runtime = ready
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "run"))
    db = tmp_path / "kw.sqlite"
    result = CliRunner().invoke(cli, ["demo", "--keyword", "--db", str(db)])
    out = result.output
    assert result.exit_code == 0, out
    assert "Traceback" not in out

    # The stream: the recordings in the order the demo names them, read here.
    names = re.search(r"recordings (.*) \(TFLM's real speech", out).group(1).split(", ")
    assert sorted(names) == sorted(f"{n}_1000ms.wav" for n in LABEL)
    clips = []
    for name in names:
        with wave.open(str(MS / name)) as w:
            assert w.getframerate() == 16000
            clips.append(np.frombuffer(w.readframes(w.getnframes()), "<i2"))
    x = np.concatenate(clips)
    starts = np.cumsum([0] + [len(c) for c in clips])
    labels = [LABEL[n.split("_")[0]] for n in names]

    # TFLM's front end over the whole stream (20 ms hops of 30 ms windows), then the model per inference.
    feats = tflm_stream_features(x)
    frames = len(feats)
    model = runtime.Interpreter.from_file(str(KEYWORD / "keyword.tflite"))
    shape = tuple(model.get_input_details(0)["shape"])
    classes = modelinfo.load(KEYWORD).classes

    every = int(re.search(r"spotter: every (\d+)", out).group(1))
    expected = list(range(49, frames + 1, every))  # window index k = front-end frames seen so far
    session = int(re.search(r"\(session (\d+): (\d+) inferences", out).group(1))
    assert int(re.search(r"\(session \d+: (\d+) inferences", out).group(1)) == len(expected)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT window_index, top, scores, device_ms FROM inferences WHERE session_id = ? "
                       "AND window_index <= ? ORDER BY window_index", (session, frames)).fetchall()
    assert [r[0] for r in rows] == expected  # every inference the summary counts is logged, once

    outputs = {}
    for k, top, scores, _ in rows:
        model.set_input(feats[k - 49:k].reshape(shape), 0)
        model.invoke()
        q = model.get_output(0).reshape(-1).astype(np.int64)
        outputs[k] = q
        assert top == int(np.argmax(q)), k
        assert np.all(np.abs(np.array(json.loads(scores)) - (q + 128) / 256) < 1 / 512), k
    assert f"same output on {len(expected)} of {len(expected)} windows" in out

    # Accuracy over the inferences whose second lies inside one recording.
    per: dict[str, list[int]] = {}
    for k, top, *_ in rows:
        s, e = (k - 49) * 320, (k - 1) * 320 + 480
        inside = [i for i in range(len(clips)) if starts[i] <= s and e <= starts[i + 1]]
        if inside:
            c = per.setdefault(labels[inside[0]], [0, 0])
            c[1] += 1
            c[0] += classes[top] == labels[inside[0]]
    assert sum(n for _, n in per.values()) == len(clips)  # every=2 puts one inference on each recording
    for c, (good, n) in per.items():
        assert re.search(rf"^\s+{c}\s+{n}\s+{good}\s+{100 * good / n:.1f}%", out, re.M), c
    ok, n = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    card = modelinfo.load(KEYWORD).evaluation["real recordings"]["overall"]["edgeloop"]
    assert re.search(rf"^\s+all\s+{n}\s+{ok}\s+{100 * ok / n:.1f}%\s+{100 * card:.1f}%$", out, re.M)

    # Detections: the board's MSG_DETECTION frames, as logged = RecognizeCommands over TFLM's
    # outputs at the stream times; each one joins the inference row it was decided on.
    from tests.tools.kws_reference import recognize

    kws = modelinfo.load(KEYWORD).kws
    times = [(k - 1) * 20 + 30 for k in expected]
    scores = np.array([outputs[k] + 128 for k in expected], np.uint8)
    ref = [(t, classes[c], s) for t, c, s in recognize(
        times, scores, average_ms=kws["average_ms"], threshold=kws["threshold"],
        suppression_ms=kws["suppression_ms"]) if classes[c] not in ("silence", "unknown")]
    logged = con.execute("SELECT time_ms, class_name, score, window_index, class_index, model_hash FROM detections "
                         "WHERE session_id = ? AND window_index <= ? ORDER BY id", (session, frames)).fetchall()
    hello_hash = con.execute("SELECT model_hash FROM sessions WHERE id = ?", (session,)).fetchone()[0]
    text_logs = con.execute("SELECT count(*) FROM events WHERE session_id = ? AND kind = 'log' "
                            "AND detail LIKE 'detected %'", (session,)).fetchone()[0]
    con.close()
    assert [(t, name, round(score * 255)) for t, name, score, *_ in logged] == ref
    for t, name, _score, k, c, mh in logged:
        assert k in outputs and t == (k - 1) * 20 + 30 and classes[c] == name and mh == hello_hash
    assert text_logs == 0  # no text log lines for detections any more
    assert f"{len(ref)} detections, " in out
    shown = re.search(r"detected\s+(.*) \(spotter:", out).group(1)
    assert shown == ("; ".join(f"{c} {s} at {t} ms" for t, c, s in ref) or "nothing")


def test_keyword_app_with_capture_rules_fits_the_rp2040_and_keeps_what_the_model_heard(ready, tmp_path, monkeypatch):
    """The demo's keyword stream on the rp2040 virtual board with capture rules (as `deploy --keep-*`
    writes them): the app starts within the board's heap (kept keyword windows are 1,960 B of
    features and need a bigger frame buffer; they fit since the model's kernels are preloaded), and
    every window it kept is TFLM's front end over the replayed recordings, the second before it."""
    from edgeloop.demo.steps import DemoContext, run_demo

    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "run"))
    db = tmp_path / "kw.sqlite"
    ctx = DemoContext(keyword=True, db=db, capture={"random": 0.3, "seed": 2})
    run_demo(ctx)
    names = [s.name for s in ctx.replay.segments]
    clips = []
    for name in names:
        with wave.open(str(MS / name)) as w:
            clips.append(np.frombuffer(w.readframes(w.getnframes()), "<i2"))
    feats = tflm_stream_features(np.concatenate(clips))
    con = sqlite3.connect(db)
    session = con.execute("SELECT max(id) FROM sessions").fetchone()[0]
    kept = con.execute("SELECT k.window_index, k.window_channels, k.features, k.window, k.rule FROM kept k "
                       "JOIN inferences i ON i.id = k.inference_id WHERE k.session_id = ? AND i.seq IS NOT NULL "
                       "AND k.window_index <= ?", (session, len(feats))).fetchall()
    heap = con.execute("SELECT min(free_heap) FROM status WHERE session_id = ?", (session,)).fetchone()[0]
    con.close()
    assert len(kept) >= 5 and heap > 0, (kept, heap)
    for k, channels, features, blob, rule in kept:
        assert (channels, features, rule) == (40, 1, "random"), k
        np.testing.assert_array_equal(np.frombuffer(blob, "<i2"), feats[k - 49:k].reshape(-1), err_msg=str(k))
    print(f"rp2040 keyword app with capture rules: {len(kept)} kept windows equal TFLM's features; "
          f"lowest free heap {heap} B")
