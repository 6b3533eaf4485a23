"""End to end on the virtual board: real firmware, real pty, real raw REPL, the board killed mid-stream.

The board replays a real gesture take (../shared/data) at its real rate; the
host streams for a fixed time, the board is hard-restarted in the middle
(the process dies; the port stays, as a USB board that resets), and then:
every frame the host received is in SQLite, the disconnect and the
reconnection are logged, and streaming resumed after it.
"""

from __future__ import annotations

import json
import shutil
import time
import sqlite3
import threading
from pathlib import Path

import pytest

from edgeloop import modelinfo
from edgeloop_fw import protocol as P
from edgeloop.sim import replay
from edgeloop.log.store import Store
from edgeloop.stream.link import BoardLink
from edgeloop.stream.session import StreamSession
from tests.tools.paths import REPO

DATA = REPO / ".." / "shared" / "data"
TAKE = "2025-06-15T192910_wave.npy"

pytestmark = [pytest.mark.sim, pytest.mark.slow]


def install_firmware(flash: Path) -> None:
    """What `edgeloop deploy` leaves on a board: the package in /lib and a replay take at the root."""
    shutil.copytree(REPO / "firmware" / "edgeloop_fw", flash / "lib" / "edgeloop_fw",
                    ignore=shutil.ignore_patterns("__pycache__", "runtime", "audio"))
    replay.place_in_flash_dir(replay.load(DATA / "gestures" / "raw" / TAKE), flash)


def test_stream_kill_board_reconnect_everything_logged(virtual_board_factory, tmp_path):
    if not (DATA / "gestures" / "raw" / TAKE).exists():
        pytest.skip("../shared/data/gestures is not here")
    flash = tmp_path / "flash"
    flash.mkdir()
    install_firmware(flash)
    vb = virtual_board_factory(flash_dir=flash)
    db = tmp_path / "log.sqlite"
    received = {"samples": 0, "status": 0, "hello": 0}

    def on_frame(msg_type, seq, t_ms, f):
        name = P.MSG_NAMES[msg_type]
        if name in received:
            received[name] += 1

    store = Store(db)
    flags = P.STREAM_SAMPLES | P.STREAM_STATUS
    session = StreamSession(lambda: BoardLink(vb.port, flags=flags, mode=P.MODE_RECORD, timeout=10),
                            store, port=vb.port, silence=2.0, retry=0.5, hello_timeout=15, on_frame=on_frame)
    samples_at_kill = {}

    def kill():
        samples_at_kill["n"] = received["samples"]
        vb.restart()  # the board dies mid-stream and comes back with its files

    timer = threading.Timer(6.0, kill)
    timer.start()
    try:
        stats = session.run(20.0)
    finally:
        timer.cancel()
        store.close()

    assert samples_at_kill.get("n", 0) > 0, "nothing streamed before the board was killed"
    assert received["samples"] > samples_at_kill["n"], "streaming did not resume after the board came back"
    assert stats.disconnects >= 1 and stats.reconnects >= 1
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM samples").fetchone()[0] == received["samples"]
    assert con.execute("SELECT count(*) FROM status").fetchone()[0] == received["status"]
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == received["hello"] >= 2
    kinds = [r[0] for r in con.execute("SELECT kind FROM events WHERE kind != 'log' ORDER BY id")]
    assert "disconnected" in kinds and kinds.index("reconnected") > kinds.index("disconnected")
    for (data, channels) in con.execute("SELECT data, channels FROM samples"):
        assert channels == 3 and len(data) % 6 == 0


GESTURE = REPO / "models" / "gesture"


def deploy_gesture_app(port: str, take: Path) -> modelinfo.ModelInfo:
    """`edgeloop deploy`'s library: firmware + the shipped gesture model, then the app's config and a take."""
    import json

    from edgeloop.deploy.plan import deploy_files
    from edgeloop.link.device import Device
    from edgeloop.deploy.firmware import deploy_firmware

    info = modelinfo.load(GESTURE)
    cfg = {"sensor": {"kind": "replay", "file": "/replay.bin"}, "window": info.window, "hop": info.hop,
           "model": "/models/gesture.elm", "classes": info.classes, "board": "rp2040", "device_id": "vb-e2e"}
    with Device(port, timeout=60) as dev:
        deploy_firmware(dev, board="rp2040", models=[GESTURE / "gesture.elm"])
        deploy_files(dev, [(json.dumps(cfg).encode(), "/edgeloop.json"),
                           (replay.load(take).to_bytes(), "/replay.bin")], group="config")
    return info


def test_inferences_of_a_deployed_model_survive_killing_the_board(virtual_board_factory, tmp_path):
    """Deploy firmware + gesture model, replay a wave take, monitor inferences (with their input
    windows), SIGKILL the board's process mid-stream (its port vanishes like an unplugged USB
    board), plug a new one in on the same flash: every inference received is in SQLite, the
    disconnect and the reconnection are logged, and each score equals TFLM's on the same window."""
    import os
    import signal
    from array import array

    import numpy as np
    from tflite_micro.python.tflite_micro import runtime

    from edgeloop.stream import run as stream_run
    from edgeloop_fw import features as F

    take = DATA / "gestures" / "raw" / TAKE
    if not take.exists():
        pytest.skip("../shared/data/gestures is not here")
    flash = tmp_path / "flash"
    flash.mkdir()
    board = {"vb": virtual_board_factory(flash_dir=flash)}
    info = deploy_gesture_app(board["vb"].port, take)
    db = tmp_path / "log.sqlite"
    received = []  # (seq, device_ms, fields) of every inference frame the host decoded
    seen = {"events": []}

    def bind(session):
        session.on_frame = lambda t, seq, t_ms, f: received.append((seq, t_ms, f)) if t == P.MSG_INFERENCE else None
        seen["session"] = session

    def kill_and_replug():
        seen["at_kill"] = len(received)
        os.kill(board["vb"].pid, signal.SIGKILL)  # the board dies; its pty goes with it
        time.sleep(1.5)
        board["vb"] = virtual_board_factory(flash_dir=flash)  # plugged back in (a new port)

    def on_tick(stats):
        if stats.events:
            seen["events"].append(stats.events[-1])
        if "at_kill" not in seen and "killer" not in seen and stats.inferences >= 12:
            seen["killer"] = threading.Thread(target=kill_and_replug)
            seen["killer"].start()

    from edgeloop.stream.link import BoardLink
    summary = stream_run.monitor(
        port=board["vb"].port, db=db, seconds=30, send_window=True, silence=2.0, retry=0.5,
        on_tick=on_tick, on_session=bind,
        link_factory=lambda: BoardLink(board["vb"].port, flags=P.STREAM_INFERENCE | P.STREAM_STATUS | P.STREAM_WINDOW,
                                       mode=P.MODE_INFER, timeout=15))
    seen["killer"].join()
    assert seen["at_kill"] >= 12 and len(received) > seen["at_kill"] + 5, (seen["at_kill"], len(received))
    stats = seen["session"].stats
    assert stats.disconnects >= 1 and stats.reconnects >= 1, summary
    assert "1 disconnects" in summary or "disconnects" in summary
    assert any("disconnected" in e for e in seen["events"]) and any("reconnected" in e for e in seen["events"])

    con = sqlite3.connect(db)
    rows = con.execute("SELECT seq, device_ms, window_index, top, scores, latency_us, model_hash, window "
                       "FROM inferences ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(s, t, f["window_index"]) for s, t, f in received]
    kinds = [r[0] for r in con.execute("SELECT kind FROM events WHERE kind != 'log' ORDER BY id")]
    assert kinds.index("reconnected") > kinds.index("disconnected")
    sessions = con.execute("SELECT model_hash, board, device_id FROM sessions").fetchall()
    assert len(sessions) >= 2 and {s[1:] for s in sessions} == {("rp2040", "vb-e2e")}
    assert {r[6] for r in rows} == {sessions[0][0]}

    # The board's answers are the model's: TFLM on each logged input window, quantized by the shared rule.
    inp = info.model["input"]
    ref = runtime.Interpreter.from_bytes((GESTURE / "gesture.tflite").read_bytes())
    qp = ref.get_output_details(0)["quantization_parameters"]
    o_scale, o_zp = float(qp["scales"][0]), int(qp["zero_points"][0])
    for seq, t_ms, window_index, top, scores, latency, _h, blob in rows:
        w = np.frombuffer(blob, "<i2")
        q = F.quantize_window(array("h", w.tobytes()), bytearray(w.size), inp["multiplier"], inp["zero_point"])
        ref.set_input(np.frombuffer(bytes(q), np.int8).reshape(1, info.window, -1), 0)
        ref.invoke()
        out = np.asarray(ref.get_output(0)).reshape(-1).astype(int)
        want = [min(1.0, (int(v) - o_zp) * o_scale) for v in out]  # probabilities; the wire has Q0.16
        assert top == int(out.argmax()) and latency > 0
        assert np.allclose(json.loads(scores), want, atol=3e-5), (window_index, scores, want)
    wave = info.classes.index("wave")
    print(f"{len(rows)} inferences logged ({seen['at_kill']} before the kill), "
          f"{sum(r[3] == wave for r in rows) / len(rows):.0%} 'wave'; {summary}")
