"""Detections on the host: MSG_DETECTION frames through the monitor into SQLite, the live view and export.

The board is replaced at the I/O edge only (stream_fakes.FakeLink plays wire
bytes); the frames are built from the shared test vectors' layout, which
tests/vectors/generate_protocol.py makes without protocol.py.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.tools.stream_fakes import FakeBoardFrames, FakeLink, factory  # noqa: E402

from edgeloop_fw import protocol as P  # noqa: E402

from edgeloop.cli import cli  # noqa: E402
from edgeloop.stream import run as stream_run  # noqa: E402
from edgeloop.stream import view  # noqa: E402
from edgeloop.stream.reader import LossCounts  # noqa: E402
from tests.tools.paths import VECTORS

VECTORS = json.loads((VECTORS / "protocol.json").read_text())
CLASSES = ["silence", "unknown", "yes", "no"]
HELLO = dict(rate_hz=16000, channels=1, window=480, hop=320, mode=2, scale=1 / 32768, device_id="kw01",
             board="rp2040", firmware="edgeloop_fw 0.1", model_hash="5e1f00d2a9b3c4e7", sensor="replay",
             units="pcm16", classes=CLASSES)


def keyword_board():
    """hello, 12 inferences; detections of yes after window 5 and no after window 9 (the vector's bytes
    for the first, re-sequenced by the fake board's encoder for the second)."""
    b = FakeBoardFrames(hello=HELLO)
    vec = next(v for v in VECTORS["frames"] if v["name"] == "detection_keyword")["fields"]
    script = [b.hello_frame()]
    for k in range(1, 13):
        script.append(b.frame(P.MSG_INFERENCE, dict(window_index=k, latency_us=900, top=0, scores=[60000, 0, 5535, 0],
                                                    model_hash=HELLO["model_hash"], window=None)))
        if k == 5:
            script.append(b.frame(P.MSG_DETECTION, dict(vec, window_index=k)))
        if k == 9:
            script.append(b.frame(P.MSG_DETECTION, dict(class_index=3, score=210 * 257, time_ms=(k - 1) * 20 + 30,
                                                        window_index=k, model_hash=HELLO["model_hash"])))
    return script


@pytest.fixture
def logged(tmp_path):
    db = tmp_path / "kw.sqlite"
    ticks = []
    summary = stream_run.monitor(port="fake", db=db, seconds=1.0, link_factory=factory(FakeLink(keyword_board())),
                                 on_tick=ticks.append)
    return db, summary, ticks[-1]


def test_monitor_logs_detections_in_their_own_table(logged):
    db, summary, _ = logged
    assert "12 inferences, 2 detections" in summary and "0 corrupt" in summary
    con = sqlite3.connect(db)
    rows = con.execute("SELECT class_name, score, time_ms, window_index, device_id, model_hash FROM detections "
                       "ORDER BY id").fetchall()
    assert rows == [("yes", round(230 / 255, 6), 1530, 5, "kw01", "5e1f00d2a9b3c4e7"),
                    ("no", round(210 / 255, 6), 190, 9, "kw01", "5e1f00d2a9b3c4e7")]
    # each detection joins the inference it was decided on
    joined = con.execute("SELECT count(*) FROM detections d JOIN inferences i ON i.session_id = d.session_id "
                         "AND i.window_index = d.window_index").fetchone()[0]
    assert joined == 2
    assert con.execute("SELECT count(*) FROM events WHERE kind = 'log'").fetchone()[0] == 0


def test_live_view_shows_the_last_detections_newest_first(logged):
    db, _, stats = logged
    assert stats.detections == 2
    console = Console(record=True, width=120, color_system=None)
    console.print(view.render(stats, LossCounts(), port="fake", db=str(db)))
    text = console.export_text()
    assert "detections (2, latest first)" in text
    lines = [ln for ln in text.splitlines() if " at " in ln and " ms" in ln]
    assert "no" in lines[0] and "82.4%" in lines[0] and "at 190 ms (window 9)" in lines[0]
    assert "yes" in lines[1] and "90.2%" in lines[1] and "at 1530 ms (window 5)" in lines[1]


def test_export_detections_as_csv(logged, tmp_path):
    db, _, _ = logged
    out = tmp_path / "det"
    r = CliRunner().invoke(cli, ["export", "--db", str(db), "--detections", "--format", "csv", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 detections" in r.output
    with open(out / "detections.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(d["class"], d["time_ms"], d["window_index"]) for d in rows] == [("yes", "1530", "5"), ("no", "190", "9")]
    assert float(rows[0]["score"]) == pytest.approx(230 / 255, abs=1e-6)


def test_export_detections_filters_and_bad_requests(logged, tmp_path):
    db, _, _ = logged
    r = CliRunner().invoke(cli, ["export", "--db", str(db), "--detections", "--model", "0000", "--format", "csv",
                                 "--out", str(tmp_path / "none")])
    assert r.exit_code != 0 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert "no detections" in r.output
    r = CliRunner().invoke(cli, ["export", "--db", str(db), "--detections", "--format", "npz", "--out",
                                 str(tmp_path / "npz")])
    assert r.exit_code != 0 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert "csv or parquet" in r.output
    assert not (tmp_path / "npz").exists()


def test_export_detections_refuses_window_filters_and_old_logs(logged, tmp_path):
    db, _, _ = logged
    r = CliRunner().invoke(cli, ["export", "--db", str(db), "--detections", "--max-confidence", "0.5", "--format",
                                 "csv", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert "--since or --model" in r.output
    from edgeloop.log.store import MIGRATIONS

    old = tmp_path / "v1.sqlite"  # a log from before migration 2, never reopened for writing
    raw = sqlite3.connect(old)
    for sql in dict(MIGRATIONS)[1]:
        raw.execute(sql)
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    r = CliRunner().invoke(cli, ["export", "--db", str(old), "--detections", "--format", "csv", "--out",
                                 str(tmp_path / "y")])
    assert r.exit_code != 0 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert "before detections were logged" in r.output and not (tmp_path / "y").exists()
