"""End to end on the virtual board: real firmware, real pty, real raw REPL, the board killed mid-stream.

The board replays a real gesture take (../shared/data) at its real rate; the
host streams for a fixed time, the board is hard-restarted in the middle
(the process dies; the port stays, as a USB board that resets), and then:
every frame the host received is in SQLite, the disconnect and the
reconnection are logged, and streaming resumed after it.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from edgeloop_fw import protocol as P
from edgeloop import replay
from edgeloop.store import Store
from edgeloop.stream.link import BoardLink
from edgeloop.stream.session import StreamSession

REPO = Path(__file__).resolve().parents[2]
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
