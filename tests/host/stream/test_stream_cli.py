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

from tests.tools.stream_fakes import LOST, FakeBoardFrames, FakeLink, factory  # noqa: E402

from edgeloop.cli import cli  # noqa: E402
from edgeloop.errors import StreamError  # noqa: E402
from edgeloop.log.export import export  # noqa: E402
from edgeloop.stream import run as stream_run  # noqa: E402
from tests.tools.paths import SHARED_DATA

GESTURES = SHARED_DATA / "gestures" / "cgestures.parquet"


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


def test_a_board_that_slows_down_is_waited_for_not_dropped(tmp_path):
    """Gaps that grow past `silence` (a slow model on a busy machine) are not a lost board: the
    limit follows the slowest gap seen (PACE times it); a board that then stops is still lost."""
    from edgeloop.stream.session import PACE

    b = FakeBoardFrames()
    gaps = (0.2, 0.35, 0.5)
    script = [b.hello_frame(), b.inference()]
    for gap in gaps:
        script += [gap, b.inference()]
    db = tmp_path / "l.sqlite"
    stream_run.monitor(port="fake", db=db, seconds=sum(gaps) + PACE * gaps[-1] + 0.6, silence=0.3, retry=0.1,
                       link_factory=factory(FakeLink(script)))
    con = sqlite3.connect(db)
    times = [r[0] for r in con.execute("SELECT host_time FROM inferences ORDER BY id")]
    assert len(times) == 1 + len(gaps)  # every one, on the first link
    events = con.execute("SELECT kind, detail, host_time FROM events ORDER BY id").fetchall()
    assert events[0][:2] == ("disconnected", f"silent for {PACE * gaps[-1]:.1f} s")
    assert events[0][2] - times[-1] >= PACE * gaps[-1]


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
    from edgeloop.link import discover
    monkeypatch.setattr(discover, "virtual_devices", lambda: [])  # another run's virtual board is not ours
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
        # Without a pause, ever: mpremote's read_until restarts its timeout on every
        # byte, so only device.py's bound on the whole handshake ends this.
        os.set_blocking(master, False)
        junk = b"\xff\x13garbage\x00\x01" * 400
        while not stop.is_set():
            try:
                os.read(master, 4096)
            except BlockingIOError:
                pass
            try:
                os.write(master, junk)
            except BlockingIOError:
                pass
            except OSError:
                return

    t = threading.Thread(target=spray, daemon=True)
    t.start()
    t0 = time.monotonic()
    try:
        r = CliRunner().invoke(cli, ["monitor", "--port", os.ttyname(slave), "--seconds", "3",
                                     "--db", str(tmp_path / "l.sqlite")])
        took = time.monotonic() - t0
    finally:
        stop.set()
        t.join()
        os.close(master)
        os.close(slave)
    out = one_line_error(r)
    assert "MicroPython" in out
    assert took < 30, f"a port that never stops sending held monitor for {took:.0f} s"


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


def spec_check_edge_impulse(doc: dict) -> None:
    """The data acquisition format as Edge Impulse documents it (docs.edgeimpulse.com, data acquisition format)."""
    assert set(doc) == {"protected", "signature", "payload"}
    prot = doc["protected"]
    assert prot["ver"] == "v1" and prot["alg"] in ("HS256", "none")
    assert isinstance(prot.get("iat", 0), int)
    assert len(doc["signature"]) == 64 and set(doc["signature"]) <= set("0123456789abcdef")
    p = doc["payload"]
    assert isinstance(p["device_type"], str) and p["device_type"]
    if "device_name" in p:  # optional, only for a globally unique id
        assert isinstance(p["device_name"], str) and p["device_name"]
    assert isinstance(p["interval_ms"], (int, float)) and p["interval_ms"] > 0
    assert p["sensors"] and all(set(s) == {"name", "units"} and s["name"] and s["units"] for s in p["sensors"])
    n = len(p["sensors"])
    for row in p["values"]:
        if n == 1:
            assert isinstance(row, (int, float)) or (isinstance(row, list) and len(row) == 1)
        else:
            assert isinstance(row, list) and len(row) == n and all(isinstance(v, (int, float)) for v in row)


def test_record_edge_impulse_json_follows_the_spec_in_senml_units(tmp_path):
    b = FakeBoardFrames()
    script = [b.hello_frame()] + [b.samples(i * 10) for i in range(5)]
    take = stream_run.record(port="fake", label="wave", seconds=0.4, out=tmp_path, edge_impulse=True,
                             link_factory=factory(FakeLink(script)))
    doc = json.loads(take.files[2].read_text())
    spec_check_edge_impulse(doc)
    p = doc["payload"]
    assert p["device_name"] == "fake01" and p["interval_ms"] == 10
    assert p["sensors"] == [{"name": f"acc{a}", "units": "m/s2"} for a in "XYZ"]  # g is not a SenML unit
    # first sample: (-1000, -999, -998) x 0.001 g, in m/s2 (standard gravity 9.80665)
    assert p["values"][0] == pytest.approx([-9.80665, -9.797, -9.787], abs=1e-3)


def test_edge_impulse_audio_is_one_wav_axis():
    from edgeloop.stream.recording import Take, edge_impulse_json
    take = Take(label="yes", started=1.0, channels=1, rate_hz=16000, data=[1, -2, 3],
                hello={"board": "rp2040", "units": "pcm16", "scale": 1 / 32768, "device_id": ""})
    doc = edge_impulse_json(take)
    spec_check_edge_impulse(doc)
    p = doc["payload"]
    assert "device_name" not in p and p["interval_ms"] == 0.0625
    assert p["sensors"] == [{"name": "audio", "units": "wav"}] and p["values"] == [1, -2, 3]


def test_every_take_of_a_label_gets_its_own_files(tmp_path):
    """Takes used to be written as <label>.csv (the time stamp dropped), each overwriting the last."""
    from edgeloop.stream.recording import Take, write_take
    hello = {"board": "rp2040", "units": "mg", "scale": 1.0}
    takes = [Take(label="wave", started=1_700_000_000.2, channels=3, rate_hz=100, data=[k] * 6, hello=hello)
             for k in range(3)]
    takes[2].started += 5  # another second
    for t in takes:
        write_take(t, tmp_path, edge_impulse=True)
    csvs = sorted(tmp_path.glob("*.csv"))
    assert len(csvs) == 3 and len(list(tmp_path.glob("*.ei.json"))) == 3
    assert [p.name for p in csvs] == ["wave.20231114T221320-2.csv", "wave.20231114T221320.csv",
                                      "wave.20231114T221325.csv"]
    for t in takes:
        csv_path, meta_path, _ = t.files
        assert json.loads(meta_path.read_text())["data"] == csv_path.name
        assert csv_path.read_text().splitlines()[1].split(",")[1] == str(t.data[0])


def test_replay_rounds_like_the_board_and_training():
    """Half a milli-g rounds away from zero (features.to_units), not to even as numpy does."""
    from decimal import ROUND_HALF_UP, Decimal

    from edgeloop.sim import replay
    g = np.array([0.0005, -0.0005, 0.0025, -0.0025, 0.0015, 1.2345, 40.0, -40.0])
    ref = [max(-32768, min(32767, int(Decimal(float(v) * 1000).quantize(Decimal(1), ROUND_HALF_UP))))
           for v in g]
    assert replay.g_to_mg(g).tolist() == ref == [1, -1, 3, -3, 2, 1235, 32767, -32768]
