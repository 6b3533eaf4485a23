"""Batches (wire version 2): how the gateway cuts a board's frames into messages, and how the
collector stores a redelivered batch that partly overlaps what it already holds.

The expected cuts are written out by hand from the rules in docs/fleet.md ("Batches"); the
collector's result is read straight from the log file with sqlite3."""

from __future__ import annotations

import sqlite3

from edgeloop_fw import protocol as P

from edgeloop.fleet import wire
from edgeloop.fleet.broker import Broker
from edgeloop.fleet.gateway import Gateway
from edgeloop.fleet.outbox import Outbox
from tests.tools.fleet_frames import board_frames, fleet_messages, publish, stored_sequences, wait_for
from tests.tools.fleet_running import DEADLINE, RunningCollector


class _Named:
    def __init__(self, name):
        self.name = name


def _gateway(tmp_path, **kw):
    outbox = Outbox(tmp_path / "q.sqlite", "gw-b")
    gw = Gateway(Broker("localhost", 1), outbox, [_Named("a"), _Named("b")], linger=3600, **kw)
    return gw, outbox


def _feed(gw, index, frames):
    for msg_type, seq, t_ms, payload in frames:
        gw._frames.put((index, msg_type, seq, t_ms, payload))


def _rows(outbox):
    """(device, kind, first sequence, [window_index or the kind's name]) per queued message, in order."""
    out = []
    for _id, topic, payload in outbox.after(0, 1000):
        batch = wire.decode_batch(topic, payload)
        labels = [m.fields["window_index"] if m.msg_type == P.MSG_INFERENCE else m.kind for m in batch]
        out.append((batch[0].device_id, batch[0].kind, batch[0].sequence, labels))
    return out


def test_the_gateway_cuts_batches_by_count_kind_and_hello(tmp_path):
    frames = list(board_frames("dev-a", 8, status_every=0))  # hello, inferences 0..7
    hello, inf = frames[0], frames[1:]
    status = [f for f in board_frames("dev-a", 2, status_every=1) if f[0] == P.MSG_STATUS][0]
    gw, outbox = _gateway(tmp_path, batch_frames=4)
    _feed(gw, 0, [hello] + inf[0:5] + [status] + inf[5:7] + [hello] + inf[7:8])
    gw._take_frames(0)
    gw._close_all()
    assert _rows(outbox) == [
        ("dev-a", "hello", 0, ["hello"]),  # a hello goes at once, alone
        ("dev-a", "inference", 1, [0, 1, 2, 3]),  # full at 4
        # the status waits in its own batch while inferences go on; the second hello closes both
        ("dev-a", "inference", 5, [4, 5, 6]),
        ("dev-a", "status", 8, ["status"]),
        ("dev-a", "hello", 9, ["hello"]),
        ("dev-a", "inference", 10, [7]),  # what lingered goes when the gateway stops
    ]
    assert gw.stats.queued == 11


def test_two_boards_never_share_a_message(tmp_path):
    a = list(board_frames("dev-a", 3, status_every=0))
    b = list(board_frames("dev-b", 3, status_every=0))
    gw, outbox = _gateway(tmp_path)
    for fa, fb in zip(a, b):  # interleaved, as two ports read at once
        _feed(gw, 0, [fa])
        _feed(gw, 1, [fb])
    gw._take_frames(0)
    gw._close_all()
    assert sorted(_rows(outbox)) == [("dev-a", "hello", 0, ["hello"]), ("dev-a", "inference", 1, [0, 1, 2]),
                                     ("dev-b", "hello", 0, ["hello"]), ("dev-b", "inference", 1, [0, 1, 2])]


def test_an_oversize_frame_goes_alone_and_no_batch_passes_the_byte_limit(tmp_path):
    frames = list(board_frames("dev-a", 7, status_every=0))
    size = len(wire.raw_frame(*frames[1]))  # every inference frame here has this size
    for limit, expect in [(size - 1, [[0], [1], [2], [3], [4], [5], [6]]),  # each bigger than the limit
                          (2 * size + 1, [[0, 1], [2, 3], [4, 5], [6]])]:
        (tmp_path / str(limit)).mkdir()
        gw, outbox = _gateway(tmp_path / str(limit), batch_bytes=limit)
        _feed(gw, 0, frames)
        gw._take_frames(0)
        gw._close_all()
        rows = _rows(outbox)
        assert [r[3] for r in rows[1:]] == expect, limit
        assert [r[2] for r in rows] == [0] + [1 + e[0] for e in expect]  # sequences stay consecutive
        outbox.close()


def test_the_linger_sends_a_lone_frame_soon(tmp_path):
    frames = list(board_frames("dev-a", 1, status_every=0))
    outbox = Outbox(tmp_path / "q.sqlite", "gw-b")
    gw = Gateway(Broker("localhost", 1), outbox, [_Named("a")], linger=0.0)
    _feed(gw, 0, frames)
    gw._take_frames(0)
    assert [r[3] for r in _rows(outbox)] == [["hello"], [0]] and not gw._open


def _overlapping(device_id="dev-o", n=30):
    """One hello message, then inference batches that overlap as a redelivery after the gateway
    re-cut its queue would: 1-10, 6-15 (6-10 again), 14-20 (14-15 again), 21-30, 1-30 (all again)."""
    single = fleet_messages(device_id, n, gateway_id="gw-o", status_every=0)  # sequence i: frame i
    raw = [wire.decode(t, p).frame for t, p in single]
    topic = wire.topic(device_id, "inference")
    out = [single[0]]
    for a, b in [(1, 10), (6, 15), (14, 20), (21, 30), (1, 30)]:
        out.append((topic, wire.encode("gw-o", a, raw[a:b + 1])))
    return out, n + 1, (5 + 2 + 30)


def test_a_partly_overlapping_redelivered_batch_is_stored_once_sqlite(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    msgs, total, doubled = _overlapping()
    with RunningCollector(broker.url, db) as run:
        publish(broker.url, msgs)
        wait_for(lambda: run.connected() and run.collector.stats.received == len(msgs), DEADLINE, "every message")
    assert stored_sequences(db)[("dev-o", "gw-o")] == list(range(total))
    con = sqlite3.connect(db)
    windows = [w for (w,) in con.execute("SELECT window_index FROM inferences ORDER BY window_index")]
    assert windows == list(range(total - 1))  # each inference row once, none lost from a partial batch
    assert run.collector.stats.duplicates == doubled and run.collector.stats.stored == total
