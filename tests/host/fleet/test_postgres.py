"""The collector into PostgreSQL (psycopg 3), against a real Mosquitto and a real PostgreSQL
server started by the test: each message once, duplicates and bad messages as with SQLite, and
the same after the collector restarts."""

from __future__ import annotations

import pytest

from tests.tools.fleet_frames import fleet_messages, publish, wait_for
from tests.tools.fleet_running import DEADLINE, RunningCollector

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")


def _sequences(url):
    with psycopg.connect(url) as con:
        try:
            rows = con.execute("SELECT device_id, sequence FROM fleet_messages ORDER BY sequence").fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
    out = {}
    for d, s in rows:
        out.setdefault(d, []).append(s)
    return out


def test_collect_into_postgres_stores_each_message_once(broker, postgres):
    a = fleet_messages("dev-a", 300, detect_every=50)
    b = fleet_messages("dev-b", 200)
    with RunningCollector(broker.url, postgres.url) as run:
        publish(broker.url, a[:250] + b + a[100:150])  # 50 redeliveries
        publish(broker.url, [("edgeloop/dev-a/inference", b"x" * 40)])
        wait_for(lambda: run.connected() and run.collector.stats.received == 250 + len(b) + 51, DEADLINE,
                 "the first messages")
    publish(broker.url, a[250:])  # while the collector is away
    with RunningCollector(broker.url, postgres.url) as run2:
        wait_for(lambda: run2.connected() and len(_sequences(postgres.url).get("dev-a", [])) == len(a), DEADLINE,
                 "the rest after the restart")
    seqs = _sequences(postgres.url)
    assert seqs == {"dev-a": list(range(len(a))), "dev-b": list(range(len(b)))}
    assert run.collector.stats.duplicates == 50 and dict(run.collector.stats.rejected) == {"magic": 1}
    with psycopg.connect(postgres.url) as con:
        rows = con.execute("SELECT i.device_id, count(*), count(DISTINCT i.window_index), min(s.device_id)"
                           " FROM inferences i JOIN sessions s ON s.id = i.session_id GROUP BY i.device_id"
                           " ORDER BY i.device_id").fetchall()
        assert rows == [("dev-a", 300, 300, "dev-a"), ("dev-b", 200, 200, "dev-b")]
        assert con.execute("SELECT count(*) FROM detections").fetchone()[0] == 6
        assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2  # the restart carried on


def test_a_partly_overlapping_redelivered_batch_is_stored_once_postgres(broker, postgres):
    """The batch path (PgStore.claim_messages: a batch's keys in one statement, only the new
    frames' rows after it): overlapping redeliveries add only the frames not stored before."""
    from tests.host.fleet.test_batch import _overlapping

    msgs, total, doubled = _overlapping()
    with RunningCollector(broker.url, postgres.url) as run:
        publish(broker.url, msgs)
        wait_for(lambda: run.connected() and run.collector.stats.received == len(msgs), DEADLINE, "every message")
    assert _sequences(postgres.url) == {"dev-o": list(range(total))}
    with psycopg.connect(postgres.url) as con:
        windows = [w for (w,) in con.execute("SELECT window_index FROM inferences ORDER BY window_index")]
        assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert windows == list(range(total - 1))
    assert run.collector.stats.duplicates == doubled and run.collector.stats.stored == total
