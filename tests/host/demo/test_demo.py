"""`edgeloop demo` end to end through the CLI, its summary checked against facts it did not compute.

The figures printed at the end are recomputed here from sources that are not
the demo's code: the held-out takes named in models/gesture/model.json read
straight from the parquet file with pyarrow, the SQLite log the demo wrote,
the shipped int8 .tflite under TensorFlow Lite Micro, the model card, the
board profile file and firmware/edgeloop_fw/__init__.py's text.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop import modelinfo
from edgeloop.boards import profiles as boards
from edgeloop.cli import cli
from tests.tools.gesture_reference import held_out_stream, label_of, tflm_outputs
from tests.tools.paths import REPO

DATA = REPO / ".." / "shared" / "data"
PARQUET = DATA / "gestures" / "cgestures.parquet"
GESTURE = REPO / "models" / "gesture"


@pytest.fixture
def sim_ready():
    from edgeloop.sim import node_status

    ok, why = node_status()
    if not ok:
        pytest.skip(f"virtual board unavailable: {why}")
    if not PARQUET.exists():
        pytest.skip(f"shared test data not found at {PARQUET}")


@pytest.mark.sim
@pytest.mark.slow
def test_gesture_demo_summary_matches_the_log_tflm_and_the_card(sim_ready, tmp_path, monkeypatch):
    pytest.importorskip("tflite_micro")
    monkeypatch.setenv("EDGELOOP_CACHE_DIR", str(tmp_path / "cache"))  # nothing compiled yet
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "run"))
    db = tmp_path / "demo.sqlite"
    result = CliRunner().invoke(cli, ["demo", "--db", str(db)])
    out = result.output
    assert result.exit_code == 0, out
    assert "Traceback" not in out
    steps = re.findall(r"^\[(\d+)/(\d+)\] (.*)$", out, re.M)
    assert [int(s[0]) for s in steps] == list(range(1, len(steps) + 1)) and len(steps) >= 8

    # What the board reports, against the profile file and the firmware's source.
    profile = boards.load("rp2040")
    mpy, abi, arch = re.search(r"^\s+_mpy\s+(\d+): \.mpy ABI ([\d.]+), native arch (\S+)$", out, re.M).groups()
    mpy = int(mpy)  # bits 0-7 version, 8-9 sub-version, 10+ native arch (0: none)
    assert abi == f"{mpy & 0xFF}.{(mpy >> 8) & 3}" and (arch == "none") == (mpy >> 10 == 0)
    heap = int(re.search(r"heap free\s+([\d,]+) bytes", out).group(1).replace(",", ""))
    assert 0 < heap <= profile.heap_bytes
    total = re.search(r"filesystem\s+[\d,]+ bytes free of ([\d,]+)", out).group(1)
    assert int(total.replace(",", "")) == profile.fs_bytes
    assert re.search(r"profile\s+rp2040 .* matches;", out)
    assert int(re.search(r"^\s+(\d+) file\(s\) sent", out, re.M).group(1)) >= 10
    fw_version = re.search(r'__version__ = "([^"]+)"', (REPO / "firmware/edgeloop_fw/__init__.py").read_text())
    assert f"edgeloop_fw {fw_version.group(1)} (same as host edgeloop" in out

    # The replayed windows and their labels, from model.json's split and the parquet file.
    info = modelinfo.load(GESTURE)
    window, hop, classes = info.window, info.hop, info.classes
    stream, spans = held_out_stream(info)
    n_windows = (len(stream) - window) // hop + 1
    assert sum((n - window) // hop + 1 for _, n, _ in spans) == info.evaluation["windows"]  # the card's

    # Every inference the summary counts is in the log, once, with the board's identity.
    session = int(re.search(r"\(session (\d+): (\d+) inferences", out).group(1))
    counted = int(re.search(r"\(session \d+: (\d+) inferences", out).group(1))
    con = sqlite3.connect(db)
    rows = con.execute("SELECT window_index, top, top_class, scores, latency_us, model_hash FROM inferences "
                       "WHERE session_id = ? AND window_index BETWEEN 1 AND ? ORDER BY window_index",
                       (session, n_windows)).fetchall()
    assert [r[0] for r in rows] == list(range(1, n_windows + 1)) and counted == n_windows
    # Each logged input window is the replayed takes' frames at that position (the log is a retraining set).
    windows = con.execute("SELECT window_index, window_channels, window FROM inferences WHERE session_id = ? "
                          "AND window_index <= ? ORDER BY window_index", (session, n_windows)).fetchall()
    for k, ch, blob in windows:
        got = np.frombuffer(blob, "<i2").reshape(-1, ch)
        assert np.array_equal(got, stream[(k - 1) * hop:(k - 1) * hop + window]), k
    assert {r[5] for r in rows} == {con.execute("SELECT model_hash FROM sessions WHERE id = ?",
                                                (session,)).fetchone()[0]}
    assert json.loads(con.execute("SELECT classes FROM sessions WHERE id = ?", (session,)).fetchone()[0]) == classes

    # The board's output equals TFLM's on every window (top class, and each score to the int8 step).
    ref = tflm_outputs(stream, n_windows, info)
    for k, top, top_class, scores, _lat, _h in rows:
        assert top == int(np.argmax(ref[k])) and top_class == classes[top], k
        probs = (ref[k] + 128) / 256  # int8 softmax output: scale 1/256, zero point -128
        assert np.all(np.abs(np.array(json.loads(scores)) - probs) < 1 / 512), k
    assert f"same output on {n_windows} of {n_windows} windows" in out

    # Accuracy from the log's top classes vs the takes' labels = what the demo printed = the card.
    per = {c: [0, 0] for c in classes}
    for k, top, *_ in rows:
        label = label_of(k, window, hop, spans)
        if label is not None:
            per[label][1] += 1
            per[label][0] += classes[top] == label
    printed = {m[0]: (int(m[1]), int(m[2]), float(m[3]), float(m[4])) for m in re.findall(
        r"^\s+(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%$", out, re.M)}
    card = info.evaluation["per_class"]["board"]
    for c in classes:
        good, n = per[c]
        assert printed[c][:2] == (n, good), c
        assert printed[c][2] == round(100 * good / n, 1) == round(100 * card[c], 1), c
        assert printed[c][3] == round(100 * card[c], 1)
    ok, n = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    assert n == info.evaluation["windows"]
    assert printed["all"][:3] == (n, ok, round(100 * ok / n, 1))
    assert printed["all"][3] == round(100 * info.evaluation["overall"]["board"], 1) == printed["all"][2]

    # Latency, heap and samples as the board reported them into the log.
    med = float(re.search(r"latency\s+([\d.]+) ms median", out).group(1))
    assert med == round(statistics.median(r[4] for r in rows) / 1000, 1)
    last_heap, low_heap = (int(v.replace(",", "")) for v in re.search(
        r"free heap\s+([\d,]+) bytes at the end, ([\d,]+) lowest", out).groups())
    heaps = [h for (h,) in con.execute("SELECT free_heap FROM status WHERE session_id = ? ORDER BY id",
                                       (session,))]
    assert heaps and (last_heap, low_heap) == (heaps[-1], min(heaps)) and 0 < low_heap <= profile.heap_bytes
    samples = int(re.search(r"inferences, ([\d,]+) samples\)", out).group(1).replace(",", ""))
    blobs = con.execute("SELECT sum(length(data)) FROM samples WHERE session_id = ?", (session,)).fetchone()[0]
    assert samples == blobs // 6 >= len(stream) - hop  # 3 int16 channels per frame
    lost = int(re.search(r"received in [\d.]+ s, (\d+) lost", out).group(1))
    assert lost >= 0
    con.close()
    from edgeloop.sim import running_sims

    assert running_sims() == []  # the demo's virtual board (registered under this test's runtime dir) is gone


def test_missing_recordings_is_one_line_before_any_board_starts(tmp_path):
    db = tmp_path / "log.sqlite"
    result = CliRunner().invoke(cli, ["demo", "--data", str(tmp_path / "nothing"), "--db", str(db)])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(tmp_path / "nothing" / "gestures" / "cgestures.parquet") in lines[0] and "--data" in lines[0]
    assert not db.exists()


def test_missing_keyword_recordings_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--keyword", "--data", str(tmp_path), "--db", str(tmp_path / "x")])
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1 and "Traceback" not in result.output
    assert str(tmp_path / "tflm" / "micro_speech") in lines[0] and "--data" in lines[0]


def test_missing_port_and_unknown_board_are_one_line(tmp_path):
    db = tmp_path / "log.sqlite"
    for args, needle in ((["--port", str(tmp_path / "ttyACM9")], "does not exist"),
                         (["--board", "pico9000"], "rp2040")):
        result = CliRunner().invoke(cli, ["demo", "--db", str(db), *args])
        assert result.exit_code != 0
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.output
    assert not db.exists()


def test_a_partial_stream_says_so_and_exits_nonzero(sim_ready, tmp_path, monkeypatch):
    """Fewer windows than the replay holds, disconnects, corrupt frames: the summary is printed,
    then one line says the data was partial, and the exit code is not 0."""
    from edgeloop.demo import steps
    from edgeloop.demo.report import Summary

    def partial_stream(ctx):  # what a starved board's stream looked like: 11 windows, 7 drops, 1 bad frame
        got = {k: {"top": 0, "latency_us": 1000, "scores": [65535, 0, 0, 0, 0]} for k in range(1, 12)}
        ctx.summary = Summary(ctx.replay, got, [], frames=40, corrupt=1, disconnects=7)
        return []

    monkeypatch.setattr(steps, "STEPS", [steps.Step("Stream", partial_stream),
                                         steps.Step("Summary", steps.step_summary)])
    result = CliRunner().invoke(cli, ["demo", "--db", str(tmp_path / "log.sqlite")])
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and "Traceback" not in result.output
    n = len(steps.prepare(steps.DemoContext()).replay.expected())
    assert "[2/2] Summary" in result.output and f"received 11 of the {n} windows" in result.output
    assert lines[-1].startswith("edgeloop: ") and \
        f"partial (11 of {n} windows inferred, 7 disconnect(s), 1 corrupt frame(s))" in lines[-1]


def test_help_has_an_example():
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0 and "edgeloop demo --port" in result.output


@pytest.mark.sim
@pytest.mark.slow
def test_port_runs_the_same_steps_on_a_board_it_did_not_start(sim_ready, virtual_board, tmp_path):
    """--port skips only the virtual board's start: the replay goes to the board's flash like the rest."""
    pytest.importorskip("tflite_micro")
    db = tmp_path / "demo.sqlite"
    result = CliRunner().invoke(cli, ["demo", "--port", virtual_board.port, "--seconds", "1", "--db", str(db)])
    out = result.output
    assert result.exit_code == 0, out
    assert "[2/9] Connect to the board" in out and "Start a virtual" not in out
    info = modelinfo.load(GESTURE)
    window, hop = info.window, info.hop
    stream, spans = held_out_stream(info)
    # 1 s of each take: 100 frames, 3 windows inside each take and one across each boundary.
    cut = np.concatenate([stream[s:s + 100] for s, _, _ in spans])
    cut_spans = [(100 * i, 100, label) for i, (_, _, label) in enumerate(spans)]
    n_windows = (len(cut) - window) // hop + 1
    assert n_windows == 4 * len(spans) - 1
    session = int(re.search(rf"\(session (\d+): {n_windows} inferences", out).group(1))
    con = sqlite3.connect(db)
    rows = con.execute("SELECT window_index, top FROM inferences WHERE session_id = ? AND window_index <= ? "
                       "ORDER BY window_index", (session, n_windows)).fetchall()
    con.close()
    assert [k for k, _ in rows] == list(range(1, n_windows + 1))
    ref = tflm_outputs(cut, n_windows, info)
    assert [t for _, t in rows] == [int(np.argmax(ref[k])) for k in range(1, n_windows + 1)]
    scored = [(label_of(k, window, hop, cut_spans), info.classes[t]) for k, t in rows]
    scored = [(a, b) for a, b in scored if a is not None]
    ok = sum(a == b for a, b in scored)
    assert len(scored) == 3 * len(spans)
    assert re.search(rf"^\s+all\s+{len(scored)}\s+{ok}\s+{100 * ok / len(scored):.1f}%", out, re.M)
    # The board was left at its REPL holding the replay: a 32-byte header and 500 frames of 3 int16.
    from edgeloop.link.device import Device

    with Device(virtual_board.port) as dev:
        assert dev.eval("__import__('os').stat('/replay.bin')[6]") == 32 + len(cut) * 3 * 2
