"""The app on the virtual board, driven through its pty exactly as over USB.

Host -> board commands (ping, set label, set mode, stream start, stop) reach
the running app (the bridge's edgeloopReadByte), Ctrl-C still interrupts it,
a host that stops reading for seconds costs the board dropped frames but
not memory or time (the bridge's edgeloopTxRoom, USB CDC's POLLOUT), and a
board without the firmware is refused in one line that says how to deploy.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeloop.sim import replay
from edgeloop.link.device import Device
from edgeloop.errors import StreamError
from edgeloop.stream.link import BoardLink
from edgeloop.stream.reader import FrameReader
from edgeloop_fw import protocol as P
from tests.tools.paths import REPO

DATA = REPO / ".." / "shared" / "data"
TAKE = DATA / "gestures" / "raw" / "2025-06-15T192910_wave.npy"
WAV = DATA / "tflm" / "micro_speech" / "yes_1000ms.wav"

pytestmark = [pytest.mark.sim, pytest.mark.slow]


def need(*paths: Path) -> None:
    for p in paths:
        if not p.exists():
            pytest.skip(f"{p} is not here (../shared/data)")


def flash_with_firmware(tmp_path: Path, recording: Path) -> Path:
    flash = tmp_path / "flash"
    shutil.copytree(REPO / "firmware" / "edgeloop_fw", flash / "lib" / "edgeloop_fw",
                    ignore=shutil.ignore_patterns("__pycache__", "runtime", "audio"))
    replay.place_in_flash_dir(replay.load(recording), flash)
    return flash


class Pump:
    """Reads the link into decoded (name, fields, seq) tuples."""

    def __init__(self, link: BoardLink):
        self.link = link
        self.reader = FrameReader()

    def read(self, seconds: float, until=None) -> list[tuple[str, dict, int]]:
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for fr in self.reader.feed(self.link.read()):
                item = (P.MSG_NAMES[fr.msg_type], P.decode_payload(fr.msg_type, fr.payload), fr.seq)
                out.append(item)
                if until is not None and until(item):
                    return out
        return out


def acks(items, command):
    return [f for n, f, _ in items if n == "ack" and f["command"] == command]


def test_commands_reach_the_app_on_the_virtual_board(virtual_board_factory, tmp_path):
    need(TAKE)
    vb = virtual_board_factory(flash_dir=flash_with_firmware(tmp_path, TAKE))
    link = BoardLink(vb.port, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD, timeout=15)
    link.open()
    pump = Pump(link)
    try:
        first = pump.read(2.0)
        assert [n for n, _, _ in first[:1]] == ["hello"] and any(n == "samples" for n, _, _ in first)

        link.send(P.CMD_PING, {"token": 0xC0FFEE03})  # 0x03 inside: escaped, not a Ctrl-C
        got = pump.read(3.0, until=lambda it: it[0] == "pong")
        assert [f["token"] for n, f, _ in got if n == "pong"] == [0xC0FFEE03]

        link.send(P.CMD_SET_LABEL, {"label": "wave"})
        got = pump.read(3.0, until=lambda it: it[0] == "ack")
        assert [(a["status"], a["text"]) for a in acks(got, P.CMD_SET_LABEL)] == [(P.ACK_OK, "wave")]

        link.send(P.CMD_SET_MODE, {"mode": P.MODE_IDLE})
        pump.read(3.0, until=lambda it: it[0] == "ack")
        idle = pump.read(1.5)
        assert not [n for n, _, _ in idle if n == "samples"], "samples kept coming in idle mode"
        assert [f["mode"] for n, f, _ in idle if n == "status"][-1] == P.MODE_IDLE

        link.send(P.CMD_SET_MODE, {"mode": 7})
        got = pump.read(3.0, until=lambda it: it[0] == "ack")
        assert [a["status"] for a in acks(got, P.CMD_SET_MODE)] == [P.ACK_BAD_ARGUMENT]

        link.send(P.CMD_STREAM_START, {"flags": P.STREAM_STATUS})  # status only, even when recording
        link.send(P.CMD_SET_MODE, {"mode": P.MODE_RECORD})
        pump.read(3.0, until=lambda it: it[0] == "ack" and it[1]["command"] == P.CMD_SET_MODE)
        pump.read(0.5)
        quiet = pump.read(1.5)
        assert not [n for n, _, _ in quiet if n == "samples"]
        link.send(P.CMD_STREAM_START, {"flags": P.STREAM_SAMPLES | P.STREAM_STATUS})
        back = pump.read(2.0)
        assert [n for n, _, _ in back if n == "samples"], "samples did not resume"

        link.send(P.CMD_HELLO)
        got = pump.read(3.0, until=lambda it: it[0] == "hello")
        assert got[-1][0] == "hello" and got[-1][1]["firmware"].startswith("edgeloop_fw")
        assert pump.reader.counts.corrupt == 0

        # CMD_STREAM_STOP: acked, run() returns, the raw REPL's end-of-run marker follows
        link.send(P.CMD_STREAM_STOP)
        s = link._serial
        tail = b""
        end = time.monotonic() + 5
        while time.monotonic() < end and b"\x04>" not in tail:
            tail += s.read(s.in_waiting or 1)
        assert b"\x04>" in tail
    finally:
        link.close(stop=False)
    with Device(vb.port) as dev:  # the board is at its REPL again: same cable, deploy would work
        assert dev.eval("1 + 1") == 2


def test_ctrl_c_still_interrupts_the_app(virtual_board_factory, tmp_path):
    need(TAKE)
    vb = virtual_board_factory(flash_dir=flash_with_firmware(tmp_path, TAKE))
    link = BoardLink(vb.port, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD, timeout=15)
    link.open()
    try:
        Pump(link).read(1.0)
        s = link._serial
        s.write(b"\x03")
        tail = b""
        end = time.monotonic() + 5
        while time.monotonic() < end and b"\x04>" not in tail:
            tail += s.read(s.in_waiting or 1)
        assert b"KeyboardInterrupt" in tail and tail.endswith(b"\x04>")
    finally:
        link.close(stop=False)
    assert vb.restarts == []  # interrupted, not restarted by the watchdog


def test_host_that_stops_reading_costs_frames_not_memory(virtual_board_factory, tmp_path):
    """16 kHz audio samples (~34 KB/s on the wire): 4 s unread overflow the pty and the board's buffer."""
    need(WAV)
    vb = virtual_board_factory(flash_dir=flash_with_firmware(tmp_path, WAV))
    link = BoardLink(vb.port, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD, timeout=15)
    link.open()
    pump = Pump(link)
    try:
        before = pump.read(3.0)
        st0 = [f for n, f, _ in before if n == "status"]
        samples0 = [f for n, f, _ in before if n == "samples"]
        assert st0 and samples0
        dropped0 = st0[-1]["dropped"]
        last_index = samples0[-1]["sample_index"]
        time.sleep(4.0)  # the host stops reading
        link.send(P.CMD_PING, {"token": 7})  # the app still answers, after what queued up
        after = pump.read(6.0)
    finally:
        link.close()
    pongs = [f for n, f, _ in after if n == "pong"]
    st1 = [f for n, f, _ in after if n == "status"]
    samples1 = [f for n, f, _ in after if n == "samples"]
    assert [p["token"] for p in pongs] == [7]
    # the board dropped and counted sample frames (160 samples each) while the port had no room
    lost = st1[-1]["dropped"] - dropped0
    assert lost >= 160 * 20, st1[-1]
    assert pump.reader.counts.dropped >= 20  # the host sees the gaps in seq
    # ... kept sampling at its real rate meanwhile: the newest sample index is ~16000/s x the
    # whole 3 + 4 + 6 s on from the last one seen before the pause
    span = (samples1[-1]["sample_index"] - last_index) / 16000
    assert 8.0 < span < 12.0, span
    # ... and never stalled on the port: every sample between two received frames went out in
    # a frame the host can count (seq), none was skipped because the loop fell behind (a board
    # blocked in write() skips the seconds it missed when it wakes up).
    skipped = 0
    prev = None
    for n, f, seq in before + after:
        if n == "samples":
            if prev is not None:
                skipped += max(0, f["sample_index"] - prev[0] - 160 * ((seq - prev[1]) & 0xFFFF))
            prev = (f["sample_index"], seq)
    assert skipped < 16000, f"{skipped} samples skipped: the board stalled while nobody read"
    # ... and memory stayed flat (nothing queued on the board)
    heaps = [f["free_heap"] for f in st0 + st1]
    assert max(heaps) - min(heaps) < 4096, heaps
    print(f"nobody reading 4 s: board dropped {lost} samples ({skipped} of them to stalls), host counted "
          f"{pump.reader.counts.dropped} missing frames, free heap {min(heaps)}..{max(heaps)} B")


def test_board_without_the_firmware_says_how_to_deploy(virtual_board):
    link = BoardLink(virtual_board.port, timeout=15)
    with pytest.raises(StreamError) as e:
        link.open()
    msg = str(e.value)
    assert "does not have the edgeloop firmware" in msg and f"edgeloop deploy --port {virtual_board.port}" in msg
    from edgeloop.cli import cli
    r = CliRunner().invoke(cli, ["monitor", "--port", virtual_board.port, "--seconds", "2",
                                 "--db", str(Path(virtual_board.flash_dir).parent / "x.sqlite")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and "edgeloop deploy" in r.output


def take_mg(n: int) -> "np.ndarray":
    """What the board replays, from the recording itself: the first n frames, looping like ReplaySensor."""
    import numpy as np
    data = replay.load(TAKE).data.astype(int)
    return np.resize(data, (n, 3))


def test_record_cli_with_edge_impulse_on_the_virtual_board(virtual_board_factory, tmp_path):
    import json

    import numpy as np

    from edgeloop.cli import cli
    from test_stream_cli import spec_check_edge_impulse
    need(TAKE)
    vb = virtual_board_factory(flash_dir=flash_with_firmware(tmp_path, TAKE))
    out = tmp_path / "dataset"
    r = CliRunner().invoke(cli, ["record", "--label", "wave", "--seconds", "3", "--out", str(out),
                                 "--port", vb.port, "--edge-impulse"])
    assert r.exit_code == 0, r.output
    assert "recorded" in r.output and "Traceback" not in r.output
    csv_path = next(out.glob("wave.*.csv"))
    meta = json.loads(csv_path.with_name(csv_path.name[:-4] + ".json").read_text())
    assert meta["units"] == "mg,mg,mg" and meta["rate_hz"] == 100 and meta["board"]
    rows = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    n = len(rows)
    assert 200 <= n <= 400 and meta["samples"] == n  # ~3 s at 100 Hz, in whole 25-frame batches
    np.testing.assert_array_equal(rows[:, 1:].astype(int), take_mg(n))  # the recording, sample for sample
    np.testing.assert_allclose(rows[:, 0], np.arange(n) / 100)
    ei = json.loads(next(out.glob("wave.*.ei.json")).read_text())
    spec_check_edge_impulse(ei)
    p = ei["payload"]
    assert p["interval_ms"] == 10 and [s["units"] for s in p["sensors"]] == ["m/s2"] * 3
    np.testing.assert_allclose(p["values"], take_mg(n) * 9.80665e-3, atol=1e-6)


def test_monitor_plot_cli_on_the_virtual_board(virtual_board_factory, tmp_path, monkeypatch):
    import sqlite3

    import numpy as np
    from rich.console import Console

    from edgeloop.cli import cli
    from edgeloop.log.store import blob_int16
    from edgeloop.stream import view
    need(TAKE)
    vb = virtual_board_factory(flash_dir=flash_with_firmware(tmp_path, TAKE))
    frames = []
    real_render = view.render
    monkeypatch.setattr(view, "render", lambda *a, **k: frames.append(real_render(*a, **k)) or frames[-1])
    db = tmp_path / "log.sqlite"
    r = CliRunner().invoke(cli, ["monitor", "--port", vb.port, "--seconds", "4", "--plot", "--db", str(db)])
    assert r.exit_code == 0, r.output
    summary = r.output.strip().splitlines()[-1]
    assert "samples" in summary and "0 corrupt" in summary and "0 disconnects" in summary
    # every sample logged is the recording's, in order
    con = sqlite3.connect(db)
    got = np.concatenate([np.array(blob_int16(d)).reshape(-1, 3)
                          for (d,) in con.execute("SELECT data FROM samples ORDER BY sample_index")])
    assert len(got) >= 200
    np.testing.assert_array_equal(got, take_mg(len(got)))
    # the live view drew the three channels (sparklines, last value in the sensor's units)
    console = Console(record=True, width=140, color_system=None)
    console.print(frames[-1])
    text = console.export_text()
    assert "sensor" in text
    lines = {ln.strip("│ ").split(" ", 1)[0]: ln for ln in text.splitlines() if ln.strip("│ ")[:2] in ("x ", "y ", "z ")}
    assert set(lines) == {"x", "y", "z"}
    assert all(any(c in ln for c in view._BLOCKS) for ln in lines.values())
