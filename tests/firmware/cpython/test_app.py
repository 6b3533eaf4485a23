"""The board app under CPython: a real gesture take replayed, streamed, decoded with protocol.py.

The expected samples come from cgestures.parquet (the take in g, read with
pyarrow) scaled to the firmware's mg — not from the replay writer's output.
"""

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeloop.sim import replay
from edgeloop_fw import protocol as P
from edgeloop_fw.app import App
from tests.tools.paths import SHARED_DATA

DATA = SHARED_DATA
TAKE = "2025-06-15T192914_wave.npy"
pytestmark = pytest.mark.skipif(not (DATA / "gestures" / "cgestures.parquet").exists(),
                                reason="../shared/data/gestures is not here (see /work/shared/data/README.md)")


def parquet_take_mg(take):
    import pyarrow.parquet as pq
    t = pq.read_table(DATA / "gestures" / "cgestures.parquet").to_pydict()
    rows = [i for i, f in enumerate(t["file"]) if f == take]
    g = np.array([[t["x"][i], t["y"][i], t["z"][i]] for i in rows])
    return np.rint(g * 1000).astype(int)


def frames_of(wire: bytes):
    out = []
    for chunk in wire.split(b"\0"):
        if chunk:
            kind, seq, t, payload = P.frame_decode(chunk)
            out.append((kind, seq, P.decode_payload(kind, payload)))
    return out


class Pipe:
    """Host -> board bytes, read one at a time by the app's Input."""

    def __init__(self):
        self.buf = bytearray()

    def push(self, data):
        self.buf += data

    def read(self):
        if not self.buf:
            return -1
        b = self.buf[0]
        del self.buf[0]
        return b


class FullPort:
    """A port whose host stopped reading: every write is refused."""

    def write(self, data):
        return 0


@pytest.fixture
def replay_file(tmp_path):
    r = replay.load(DATA / "gestures" / "raw" / TAKE)
    path = replay.place_in_flash_dir(r, tmp_path)
    return path


def make_app(replay_file, out, inp=None, **kw):
    cfg = {"sensor": {"kind": "replay", "file": str(replay_file)}, "window": 100, "hop": 50, "board": "test"}
    from edgeloop_fw.serial_link import Output
    return App(cfg, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD, out=Output(out), inp=inp or Pipe(), **kw)


def test_streamed_samples_equal_the_recording(replay_file):
    expected = parquet_take_mg(TAKE)
    out = io.BytesIO()
    app = make_app(replay_file, out)
    app.begin()
    for _ in range(len(expected) + 10):  # one lap and a bit: the replay loops
        app.step_block()
    frames = frames_of(out.getvalue())
    hello = [f for k, _, f in frames if k == P.MSG_HELLO][0]
    assert (hello["rate_hz"], hello["channels"], hello["units"], hello["scale"]) == (100, 3, "mg,mg,mg", 1.0)
    samples = [f for k, _, f in frames if k == P.MSG_SAMPLES]
    assert [s["sample_index"] for s in samples] == [i * 25 for i in range(len(samples))]
    data = np.concatenate([np.array(s["data"]).reshape(-1, 3) for s in samples])
    assert len(data) >= len(expected)
    np.testing.assert_array_equal(data[: len(expected)], expected)
    np.testing.assert_array_equal(data[len(expected):], expected[: len(data) - len(expected)])
    assert [s for _, s, _ in frames] == list(range(len(frames)))  # no sequence gaps


def test_commands_ping_label_mode_stop(replay_file):
    out = io.BytesIO()
    pipe = Pipe()
    app = make_app(replay_file, out, pipe)
    app.begin()
    pipe.push(P.cmd_encode(P.CMD_PING, 1, {"token": 0xDEADBEEF}))
    pipe.push(P.cmd_encode(P.CMD_SET_LABEL, 2, {"label": "wave"}))
    pipe.push(P.cmd_encode(P.CMD_SET_MODE, 3, {"mode": 7}))
    pipe.push(P.cmd_encode(P.CMD_STREAM_STOP, 4))
    app.poll_commands()
    assert not app.running and app.label == "wave"
    got = [(k, f) for k, _, f in frames_of(out.getvalue())]
    assert (P.MSG_PONG, {"token": 0xDEADBEEF}) in got
    acks = [f for k, f in got if k == P.MSG_ACK]
    assert [(a["command"], a["command_seq"], a["status"]) for a in acks] == [
        (P.CMD_SET_LABEL, 2, P.ACK_OK), (P.CMD_SET_MODE, 3, P.ACK_BAD_ARGUMENT), (P.CMD_STREAM_STOP, 4, P.ACK_OK)]
    assert acks[0]["text"] == "wave"


def test_a_malformed_ping_gets_an_ack_and_the_next_ping_its_pong(replay_file):
    """Pings are answered from the reader's buffer without decoding (the board allocates nothing
    for the host's heartbeat); one whose payload is not 4 bytes is refused like any bad command."""
    out = io.BytesIO()
    pipe = Pipe()
    app = make_app(replay_file, out, pipe)
    app.begin()
    pipe.push(P.cmd_escape(P.frame_encode(P.CMD_PING, 7, 0, b"\x01\x02\x03")))
    pipe.push(P.cmd_encode(P.CMD_PING, 8, {"token": 0x80000001}, t_ms=0xFFFFFFFF))
    app.poll_commands()
    got = [(k, f) for k, _, f in frames_of(out.getvalue())]
    acks = [(f["command"], f["command_seq"], f["status"]) for k, f in got if k == P.MSG_ACK]
    assert acks == [(P.CMD_PING, 7, P.ACK_BAD_ARGUMENT)]
    assert [f["token"] for k, f in got if k == P.MSG_PONG] == [0x80000001]


def test_nobody_reading_drops_and_counts(replay_file):
    app = make_app(replay_file, FullPort())
    app.begin()
    for _ in range(1000):
        app.step_block()
    app.status()
    assert app.dropped == 1000 // 25 * 25  # every full batch of samples was refused and counted
    assert app.out.dropped >= 40 and app.out.frames == 0


def test_paced_run_keeps_the_real_rate(replay_file):
    out = io.BytesIO()
    app = make_app(replay_file, out)
    app.run(seconds=1.0)
    n = app.sample_index
    assert 90 <= n <= 110, n  # 100 Hz for one second


def test_a_board_slower_than_its_sensor_still_sends_status_every_second(replay_file):
    """Blocks that take longer than the sensor's period keep the loop catching up for good;
    the status frames (the host's sign of life) must still come once a second of board time."""
    import time

    out = io.BytesIO()
    app = make_app(replay_file, out)
    real_step, blocks = app.step_block, [0]

    def slow_step():  # 50 ms of work per 10 ms block, for 2.5 s
        real_step()
        time.sleep(0.05)
        blocks[0] += 1
        if blocks[0] == 50:
            app.running = False

    app.step_block = slow_step
    app.run()
    decoded = [P.frame_decode(c) for c in out.getvalue().split(b"\0") if c]
    times = [t for kind, _, t, _ in decoded if kind == P.MSG_STATUS]  # the board's clock, ms
    assert len(times) >= 3, times
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(900 <= g <= 1500 for g in gaps), gaps

