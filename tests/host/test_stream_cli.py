"""monitor/record/export end to end with the link replaced at the I/O edge, and every bad input."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_fakes import LOST, FakeBoardFrames, FakeLink, factory  # noqa: E402

from edgeloop.cli import cli  # noqa: E402
from edgeloop.errors import StreamError  # noqa: E402
from edgeloop.export import export  # noqa: E402
from edgeloop.stream import run as stream_run  # noqa: E402

GESTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gestures" / "cgestures.parquet"


def one_line_error(result):
    assert result.exit_code != 0
    out = result.output.strip()
    assert "Traceback" not in out
    assert len(out.splitlines()) == 1, out
    return out


def test_monitor_logs_every_inference_and_survives_a_disconnect(tmp_path):
    b = FakeBoardFrames(window=True)
    first = [b.hello_frame()] + [b.inference() + b.status() for _ in range(30)] + [LOST]
    second = [b.hello_frame()] + [b.inference() for _ in range(20)]
    db = tmp_path / "log.sqlite"
    summary = stream_run.monitor(port="fake", db=db, seconds=2.5, retry=0.1,
                                 link_factory=factory(FakeLink(first), FakeLink(second)))
    assert "50 inferences" in summary and "1 disconnects" in summary
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM inferences").fetchone()[0] == 50
    assert [r[0] for r in con.execute("SELECT window_index FROM inferences ORDER BY id")] == list(range(50))
    kinds = [r[0] for r in con.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["disconnected", "reconnected"]
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2


def test_silent_board_is_a_disconnect_then_reconnects(tmp_path):
    b = FakeBoardFrames()
    first = [b.hello_frame(), b.inference(), 0.6]  # then silence: the board died without the port noticing
    second = [b.hello_frame(), b.inference()]
    stats_seen = []
    stream_run.monitor(port="fake", db=tmp_path / "l.sqlite", seconds=1.5, silence=0.3, retry=0.1,
                       link_factory=factory(FakeLink(first), FakeLink(second)),
                       on_tick=lambda s: stats_seen.append((s.connected, s.disconnects, s.reconnects)))
    # disconnected after the silence, then connected again (the replacement board goes quiet later too)
    assert (False, 1, 0) in stats_seen
    assert stats_seen.index((True, 1, 1)) > stats_seen.index((False, 1, 0))


def test_corrupt_and_dropped_frames_are_counted(tmp_path):
    b = FakeBoardFrames()
    hello = b.hello_frame()
    frames = [b.inference() for _ in range(10)]
    bad = bytearray(frames[3])
    bad[5] ^= 0xFF
    script = [hello] + frames[:3] + [bytes(bad)] + frames[4:6] + frames[7:]
    summary = stream_run.monitor(port="fake", db=tmp_path / "l.sqlite", seconds=0.5,
                                 link_factory=factory(FakeLink(script)))
    assert "8 inferences" in summary and "2 dropped, 1 corrupt" in summary


def test_garbage_from_the_board_is_one_clear_error(tmp_path):
    noise = bytes(range(1, 256)) * 40
    with pytest.raises(StreamError, match="not edgeloop frames"):
        stream_run.monitor(port="fake", db=tmp_path / "l.sqlite", seconds=10,
                           link_factory=factory(FakeLink([noise, b"\x00" + noise] * 50)))


def test_unknown_port_is_one_line():
    r = CliRunner().invoke(cli, ["monitor", "--port", "/dev/does-not-exist", "--seconds", "1"])
    out = one_line_error(r)
    assert "/dev/does-not-exist" in out


def test_missing_port_is_one_line(monkeypatch):
    monkeypatch.delenv("EDGELOOP_PORT", raising=False)
    from serial.tools import list_ports
    monkeypatch.setattr(list_ports, "comports", lambda: [])
    r = CliRunner().invoke(cli, ["record", "--label", "wave", "--seconds", "1"])
    out = one_line_error(r)
    assert "--port" in out


def test_board_sending_garbage_on_the_port_is_one_line(tmp_path):
    """A real pty whose other end sprays bytes: not a REPL, so nothing to stream from."""
    master, slave = pty.openpty()
    import tty
    tty.setraw(slave)
    stop = threading.Event()

    def spray():
        # A burst, then quiet. (A board that never pauses hangs mpremote's
        # enter_raw_repl: its overall timeout is only checked between bytes.)
        for _ in range(50):
            if stop.is_set():
                return
            try:
                os.write(master, b"\xff\x13garbage\x00\x01" * 8)
            except OSError:
                return
            time.sleep(0.01)

    t = threading.Thread(target=spray, daemon=True)
    t.start()
    try:
        r = CliRunner().invoke(cli, ["monitor", "--port", os.ttyname(slave), "--seconds", "3",
                                     "--db", str(tmp_path / "l.sqlite")])
    finally:
        stop.set()
        t.join()
        os.close(master)
        os.close(slave)
    out = one_line_error(r)
    assert "MicroPython" in out


def test_read_only_db_path_is_one_line(tmp_path):
    r = CliRunner().invoke(cli, ["monitor", "--port", "/dev/null", "--db", "/proc/edgeloop/log.sqlite",
                                 "--seconds", "1"])
    out = one_line_error(r)
    assert "cannot" in out and "--db" in out


def test_record_writes_take_and_edge_impulse_json(tmp_path):
    b = FakeBoardFrames()
    script = [b.hello_frame()] + [b.samples(i * 10) for i in range(30)] + [b.samples(400)]  # 100 samples missing
    take = stream_run.record(port="fake", label="wave", seconds=0.5, out=tmp_path / "ds", edge_impulse=True,
                             link_factory=factory(FakeLink(script)))
    assert take.n_samples == 310 and take.gaps == 100
    csv_path, meta_path, ei_path = take.files
    meta = json.loads(meta_path.read_text())
    want = {"label": "wave", "board": "rp2040", "rate_hz": 100, "units": "g", "channels": ["x", "y", "z"]}
    assert {k: meta[k] for k in want} == want
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "time,x,y,z" and len(rows) == 311
    assert rows[1] == "0.000000,-1,-0.999,-0.998"  # int16 * scale (0.001 g/LSB)
    ei = json.loads(ei_path.read_text())
    assert ei["protected"]["ver"] == "v1" and ei["protected"]["alg"] == "none" and len(ei["signature"]) == 64
    p = ei["payload"]
    assert p["interval_ms"] == 10 and p["device_type"] == "rp2040"
    assert [s["name"] for s in p["sensors"]] == ["accX", "accY", "accZ"] and len(p["values"]) == 310


def test_record_bad_label_is_one_line():
    r = CliRunner().invoke(cli, ["record", "--label", "../x", "--port", "/dev/null"])
    assert "label" in one_line_error(r)


@pytest.fixture
def logged(tmp_path):
    b = FakeBoardFrames(window=True)
    script = [b.hello_frame()] + [b.inference() for _ in range(20)]
    db = tmp_path / "log.sqlite"
    stream_run.monitor(port="fake", db=db, seconds=0.4, link_factory=factory(FakeLink(script)))
    return db


def test_export_npz_and_parquet_layout(logged, tmp_path):
    r = export(logged, tmp_path / "npz", fmt="npz", max_confidence=0.9)
    z = np.load(r["path"])
    assert z["x"].shape == (20, 4, 3) and z["y"].shape == (20,)
    assert z["x"][0, 0, 0] == pytest.approx(-0.05)  # window value -50 * 0.001 g
    r = export(logged, tmp_path / "pq", fmt="parquet")
    t = pq.read_table(r["path"])
    if GESTURES.exists():  # the same columns, in the same order, as the training data
        assert t.schema.names == pq.read_table(GESTURES).schema.names
    assert t.num_rows == 80 and set(t.column("activity").to_pylist()) == {"idle", "snake", "updown", "wave", "other"}


def test_export_label_file_and_filters(logged, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n1,wave\n2,idle\n")
    r = CliRunner().invoke(cli, ["export", "--db", str(logged), "--label-from", str(labels), "--format", "csv",
                                 "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "wrote 2 windows" in r.output
    r = CliRunner().invoke(cli, ["export", "--db", str(logged), "--model", "nope", "--format", "npz",
                                 "--out", str(tmp_path / "d")])
    assert "no logged windows" in one_line_error(r)
    r = CliRunner().invoke(cli, ["export", "--db", str(tmp_path / "missing.sqlite"), "--format", "npz",
                                 "--out", str(tmp_path / "e")])
    assert "no log at" in one_line_error(r)
