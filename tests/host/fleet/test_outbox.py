"""The gateway's on-disk queue on its own: bounded (drops the oldest, counts them, remembers the
count), sequences never reused across reopening, rows leave only when removed."""

from __future__ import annotations

import pytest

from edgeloop.fleet import wire
from edgeloop.fleet.outbox import Outbox, OutboxError
from tests.tools.fleet_frames import board_frames


def _items(device_id, n):
    return [(device_id, wire.KINDS[t], wire.raw_frame(t, s, ms, p)) for t, s, ms, p in board_frames(device_id, n,
                                                                                                   status_every=0)]


def _seqs(rows):
    return [wire.decode(topic, payload).sequence for _id, topic, payload in rows]


def test_full_queue_drops_the_oldest_and_counts_them(tmp_path):
    q = Outbox(tmp_path / "q.sqlite", "gw", limit=50)
    assert q.put_many(_items("a", 29)) == 0  # hello + 29 = 30
    assert q.put_many(_items("a", 29)) == 10
    assert (q.size, q.dropped) == (50, 10)
    rows = q.after(0, 1000)
    assert _seqs(rows) == list(range(10, 60))  # the newest 50, in order
    q.close()
    q = Outbox(tmp_path / "q.sqlite", "gw", limit=50)
    assert (q.size, q.dropped) == (50, 10)  # both survive a restart


def test_sequences_continue_after_reopening_and_rows_leave_only_when_removed(tmp_path):
    q = Outbox(tmp_path / "q.sqlite", "gw")
    q.put_many(_items("a", 4) + _items("b", 2))
    rows = q.after(0, 3)
    q.remove([r[0] for r in rows])
    q.remove([rows[0][0]])  # removing twice (a PUBACK for a dropped or resent row) changes nothing
    assert q.size == 5 + 3 - 3
    q.close()
    q = Outbox(tmp_path / "q.sqlite", "gw")
    q.put_many(_items("a", 1))
    msgs = [wire.decode(t, p) for _i, t, p in q.after(0, 100)]
    assert [(m.device_id, m.sequence) for m in msgs] == [("a", 3), ("a", 4), ("b", 0), ("b", 1), ("b", 2),
                                                         ("a", 5), ("a", 6)]


def test_bad_ids_and_files_are_refused(tmp_path):
    with pytest.raises(wire.WireError):
        Outbox(tmp_path / "q.sqlite", "no spaces")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(OutboxError, match="--queue"):
        Outbox(tmp_path / "junk.sqlite", "gw")
