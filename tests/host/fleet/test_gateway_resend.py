"""The gateway's bookkeeping between PUBACK and confirmation, without a broker: a recording
stand-in for paho's client, PUBACKs and confirmations handed in as paho's callbacks would. What
is checked is which bytes are published when and what the queue file still holds; the clock is
not waited on (a message is made overdue by moving its PUBACK time back)."""

from __future__ import annotations

import time

from edgeloop.fleet import wire
from edgeloop.fleet.broker import Broker
from edgeloop.fleet.gateway import Gateway
from edgeloop.fleet.outbox import Outbox
from tests.tools.fleet_frames import board_frames


class Recorder:
    """What paho's publish returns (rc, mid), and every publish in order."""

    def __init__(self):
        self.sent: list[tuple[int, str, bytes]] = []

    def publish(self, topic, payload, qos):
        assert qos == 1
        self.sent.append((len(self.sent) + 1, topic, payload))

        class Info:
            rc, mid = 0, len(self.sent)
        return Info()


def _gateway(tmp_path, n=5, window=3):
    outbox = Outbox(tmp_path / "q.sqlite", "gw-r")
    outbox.put_many([("dev-a", wire.KINDS[t], wire.raw_frame(t, s, ms, p))
                     for t, s, ms, p in list(board_frames("dev-a", n, status_every=0))[:n]])
    gw = Gateway(Broker("127.0.0.1", 1), outbox, [], window=window, confirm_wait=10.0, max_backoff=40.0)
    gw._client, gw._connected = Recorder(), True
    return gw, outbox


def _seqs(sent):
    return [wire.decode(t, p).sequence for _mid, t, p in sent]


def _confirm(gw, *ranges):
    gw._confirmations.append(wire.encode_ack(ranges))
    gw._settle()


def test_a_puback_keeps_the_message_and_a_confirmation_removes_it(tmp_path):
    gw, outbox = _gateway(tmp_path)
    gw._send()
    assert _seqs(gw._client.sent) == [0, 1, 2]  # the window: 3 without PUBACK
    gw._acked.extend([1, 2])
    gw._settle()
    assert outbox.size == 5 and gw.stats.acked == 2 and gw.stats.confirmed == 0
    gw._send()
    assert _seqs(gw._client.sent) == [0, 1, 2, 3, 4]  # PUBACKed ones free the window, still queued
    _confirm(gw, ("dev-a", 0, 2), ("other", 0, 5))  # another device's range names nothing here
    assert outbox.size == 3 and gw.stats.confirmed == 2
    assert [wire.decode(t, p).sequence for _i, t, p in outbox.after(0, 10)] == [2, 3, 4]
    _confirm(gw, ("dev-a", 2, 1))  # a confirmation can come before the PUBACK
    gw._acked.extend([3, 4, 5])
    gw._settle()
    assert outbox.size == 2 and gw.stats.confirmed == 3 and list(gw._unconfirmed) == [4, 5]
    gw._confirmations.append(b"junk")
    gw._settle()
    assert gw.stats.bad_confirmations == 1 and outbox.size == 2
    outbox.close()


def test_an_overdue_message_is_resent_unchanged_then_the_pause_doubles_until_a_confirmation(tmp_path):
    gw, outbox = _gateway(tmp_path, n=4)
    gw._send()
    gw._acked.extend([1, 2, 3])
    gw._settle()
    first = {wire.decode(t, p).sequence: (t, p) for _m, t, p in gw._client.sent}
    gw._send()  # seq 3; nothing is overdue yet
    assert _seqs(gw._client.sent) == [0, 1, 2, 3]
    gw._acked.append(4)
    gw._settle()
    for row_id in gw._unconfirmed:
        gw._unconfirmed[row_id] -= 11  # all PUBACKed more than confirm_wait ago
    gw._send()
    resent = gw._client.sent[4:]
    assert _seqs(resent) == [0, 1, 2]  # the oldest, one window, same bytes
    assert [(t, p) for _m, t, p in resent] == [first[0], first[1], first[2]]
    assert gw.stats.resent == 3
    gw._acked.extend([5, 6, 7])
    gw._settle()
    for row_id in gw._unconfirmed:
        gw._unconfirmed[row_id] -= 11
    gw._send()
    assert len(gw._client.sent) == 7  # the pause after a resend: nothing more yet
    assert gw._resend_at > time.monotonic() + 5 and gw._backoff == 20.0
    _confirm(gw, ("dev-a", 1, 1))  # one resent message confirmed: the collector is there
    gw._send()
    assert _seqs(gw._client.sent[7:]) == [0, 2, 3]  # the next overdue (all three), in queue order
    assert outbox.size == 3
    outbox.close()


def test_a_board_whose_publish_ends_the_connection_twice_is_held_back(tmp_path):
    """Mosquitto ends the connection at a publish its ACL refuses; a gateway that sent the refused
    board's message first after every reconnect never got its other boards' confirmations
    through (CI: none within 180 s). Twice in a row at the same board, and the others go first."""
    outbox = Outbox(tmp_path / "q.sqlite", "gw-r")
    frames = {d: list(board_frames(d, 3, status_every=0))[:3] for d in ("dev-x", "dev-a")}
    outbox.put_many([(d, wire.KINDS[t], wire.raw_frame(t, s, ms, p))
                     for d in ("dev-x", "dev-a") for t, s, ms, p in frames[d]])
    logs = []
    gw = Gateway(Broker("127.0.0.1", 1), outbox, [], window=10, confirm_wait=10.0, log=logs.append)

    def connection():
        gw._client, gw._connected = Recorder(), True
        gw._send()
        return [wire.decode_batch(t, p)[0].device_id for _mid, t, p in gw._client.sent]

    for _ in range(2):  # the broker refuses dev-x's first message, answers nothing after it
        assert connection()[0] == "dev-x"
        gw._lost("the broker closed the connection")
    assert any("holding its messages" in line and "dev-x" in line for line in logs), logs
    assert set(connection()) == {"dev-a"}  # held back: dev-a's messages go, dev-x's stay queued
    assert outbox.size == 6
    gw._acked.extend(range(1, 4))  # dev-a PUBACKed; its confirmations can now arrive
    gw._settle()
    gw._held = {d: 0.0 for d in gw._held}  # the hold is over (the clock is not waited on)
    gw._send()
    assert [wire.decode_batch(t, p)[0].device_id for _mid, t, p in gw._client.sent[3:]] == ["dev-x"] * 3
    outbox.close()
