"""The fleet view end to end: a virtual board (real MicroPython on a pty) running the gesture model
on a replayed take, read by the real gateway, through Mosquitto, watched by
`edgeloop monitor --broker` (beside the collector that confirms what it stored); its row shows what the board sent (the frames the gateway's source
yielded, decoded here)."""

from __future__ import annotations

import threading

import pytest
from edgeloop_fw import protocol as P

from edgeloop.fleet import wire
from edgeloop.fleet.broker import parse_broker
from edgeloop.fleet.gateway import Gateway
from edgeloop.fleet.outbox import Outbox
from edgeloop.fleet.sources import BoardSource
from edgeloop.stream.link import BoardLink
from tests.host.deploy.test_deploy_model import HELD_OUT_WAVE, push_take, run
from tests.host.fleet.test_fleet_view import Watching, _table
from tests.tools.fleet_frames import publish, wait_for
from tests.tools.fleet_running import DEADLINE, RunningCollector
from tests.tools.paths import REPO

pytestmark = [pytest.mark.sim, pytest.mark.slow]


class Kept:
    """A BoardSource that stops after `n` inferences and keeps every frame it emitted."""

    def __init__(self, source: BoardSource, n: int):
        self.source, self.n, self.name = source, n, source.name
        self.emitted: list[tuple[int, dict]] = []

    def run(self, emit, should_stop):
        def keep(msg_type, seq, t_ms, payload):
            self.emitted.append((msg_type, t_ms, P.decode_payload(msg_type, bytes(payload))))
            emit(msg_type, seq, t_ms, payload)

        done = lambda: sum(1 for t, _ms, _f in self.emitted if t == P.MSG_INFERENCE)  # noqa: E731
        self.source.run(keep, lambda: should_stop() or done() >= self.n)


def test_the_view_shows_what_a_virtual_board_sent_through_the_gateway(virtual_board, broker, tmp_path):
    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", REPO / "models" / "gesture", "--sensor", "replay")
    assert code == 0, out
    push_take(vb, HELD_OUT_WAVE)
    link = lambda: BoardLink(vb.port, flags=P.STREAM_INFERENCE | P.STREAM_STATUS, mode=P.MODE_INFER, timeout=60)  # noqa: E731
    src = Kept(BoardSource(vb.port, link_factory=link, hello_timeout=60, silence=30), 12)
    result = {}

    def run_gateway():
        outbox = Outbox(tmp_path / "q.sqlite", "gw-sim")
        try:
            result["stats"] = Gateway(parse_broker(broker.url), outbox, [src], retry=0.2).run(
                until_drained=True, seconds=DEADLINE * 2)
        except BaseException as e:
            result["error"] = e
        finally:
            outbox.close()

    # A collector confirms what it stored: only then do messages leave the gateway's queue (docs/fleet.md).
    with RunningCollector(broker.url, tmp_path / "fleet.sqlite"), Watching(broker.url) as w:
        wait_for(lambda: w.saw("watching edgeloop/+/+"), DEADLINE, "the view to subscribe")
        t = threading.Thread(target=run_gateway, daemon=True)
        t.start()
        t.join(DEADLINE * 3)
        assert "error" not in result, result.get("error")
        assert result["stats"].waiting == 0 and result["stats"].dropped == 0
        # Published after the broker acknowledged every gateway message: it reaches the view last.
        publish(broker.url, [(wire.topic("dev-z", "status"), b"XX" + bytes(26))])
        wait_for(lambda: w.saw("dev-z/status"), DEADLINE, "the view to refuse the last message")
        code, out = w.stop()
    assert code == 0, (out, w.err)

    hello = next(f for t, _ms, f in src.emitted if t == P.MSG_HELLO)
    device = hello["device_id"] or wire.fallback_device_id("gw-sim", vb.port)
    inferences = [(ms, f) for t, ms, f in src.emitted if t == P.MSG_INFERENCE]
    statuses = [f for t, _ms, f in src.emitted if t == P.MSG_STATUS]
    assert len(inferences) >= 12 and statuses, [P.MSG_NAMES[t] for t, _ms, _f in src.emitted[:10]]
    last_ms, last = inferences[-1]
    recent = [ms for ms, _f in inferences if last_ms - ms <= 10_000]  # the last 10 s of the board's clock
    rows = _table(out)
    assert list(rows) == [device], out
    assert rows[device][:8] == [
        "gw-sim", hello["classes"][last["top"]], str(len(inferences)),
        f"{(len(recent) - 1) * 1000 / (recent[-1] - recent[0]):.1f}", f"{last['latency_us'] / 1000:.2f}",
        f"{statuses[-1]['free_heap'] / 1024:.1f}", str(statuses[-1]["dropped"]), "0"], out
