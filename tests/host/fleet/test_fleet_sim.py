"""A virtual board (real MicroPython on a pty) through the gateway's board source, Mosquitto and
the collector: every frame the board's stream yielded is in the log once."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from edgeloop_fw import protocol as P

from edgeloop.fleet import wire
from edgeloop.fleet.broker import parse_broker
from edgeloop.fleet.gateway import Gateway
from edgeloop.fleet.outbox import Outbox
from edgeloop.fleet.sources import BoardSource
from edgeloop.stream.link import BoardLink
from tests.host.stream.test_stream_sim import TAKE, flash_with_firmware, need
from tests.tools.fleet_frames import stored_sequences, wait_for
from tests.tools.fleet_running import DEADLINE, RunningCollector

pytestmark = [pytest.mark.sim, pytest.mark.slow]


class Counted:
    """A BoardSource that stops after `n` sample frames and keeps what it emitted."""

    def __init__(self, source: BoardSource, n: int):
        self.source, self.n, self.name = source, n, source.name
        self.emitted: list[tuple[int, int, int]] = []

    def run(self, emit, should_stop):
        def keep(msg_type, seq, t_ms, payload):
            self.emitted.append((msg_type, seq, t_ms))
            emit(msg_type, seq, t_ms, payload)

        samples = lambda: sum(1 for t, _s, _ms in self.emitted if t == P.MSG_SAMPLES)  # noqa: E731
        self.source.run(keep, lambda: should_stop() or samples() >= self.n)


def test_a_virtual_board_through_the_fleet(virtual_board_factory, broker, tmp_path):
    need(TAKE)
    vb = virtual_board_factory(flash_dir=flash_with_firmware(tmp_path, TAKE))
    db = tmp_path / "fleet.sqlite"
    link = lambda: BoardLink(vb.port, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD, timeout=60)  # noqa: E731
    src = Counted(BoardSource(vb.port, link_factory=link, hello_timeout=60, silence=30), 60)
    result = {}

    def run_gateway():
        outbox = Outbox(tmp_path / "q.sqlite", "gw-sim")
        try:
            gw = Gateway(parse_broker(broker.url), outbox, [src], retry=0.2)
            result["stats"] = gw.run(until_drained=True, seconds=DEADLINE * 2)
        except BaseException as e:
            result["error"] = e
        finally:
            outbox.close()

    with RunningCollector(broker.url, db, client_id="c-sim") as col:
        t = threading.Thread(target=run_gateway, daemon=True)
        t.start()
        t.join(DEADLINE * 3)
        assert "error" not in result, result.get("error")
        stats = result["stats"]
        assert stats.waiting == 0 and stats.dropped == 0
        published = [e for e in src.emitted if e[0] in wire.KINDS]  # pongs and acks are the link's business
        assert stats.queued == len(published), (stats, [P.MSG_NAMES[t] for t, _s, _ms in src.emitted[:8]])
        wait_for(lambda: col.check() and sum(map(len, stored_sequences(db).values())) == len(published), DEADLINE,
                 "every frame the board sent")
    (key, seqs), = stored_sequences(db).items()
    assert key[1] == "gw-sim" and seqs == list(range(len(published)))
    con = sqlite3.connect(db)
    device = con.execute("SELECT device_id FROM sessions").fetchall()
    assert device == [(key[0],)]  # the board's own id, from its hello
    rows = con.execute("SELECT seq, device_ms FROM samples ORDER BY id").fetchall()
    assert rows == [(s, ms) for t, s, ms in src.emitted if t == P.MSG_SAMPLES]
    assert len(rows) >= 60
