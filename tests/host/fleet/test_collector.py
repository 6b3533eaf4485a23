"""The collector against a real Mosquitto: what a plain MQTT client publishes lands in the log's
tables once, bad messages are counted and skipped, and messages published while the collector
was away arrive when it is back (persistent session)."""

from __future__ import annotations

import sqlite3

from tests.tools.fleet_frames import fleet_messages, publish, stored_sequences, wait_for
from tests.tools.fleet_running import DEADLINE, RunningCollector

def test_each_message_lands_once_in_the_log_tables(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    a = fleet_messages("dev-a", 300, gateway_id="gw-1", detect_every=50)
    b = fleet_messages("dev-b", 200, gateway_id="gw-2")
    with RunningCollector(broker.url, db) as run:
        publish(broker.url, a + b + a[100:150])  # 50 redeliveries of dev-a's messages
        publish(broker.url, [("edgeloop/dev-a/inference", b"garbage".ljust(40, b"!")), ("edgeloop/dev a/x", a[5][1]),
                             ("edgeloop/dev-b/status", a[1][1])])
        wait_for(lambda: run.connected() and run.collector.stats.received == len(a) + len(b) + 53, DEADLINE, "every message")
    seqs = stored_sequences(db)
    assert seqs[("dev-a", "gw-1")] == list(range(len(a)))
    assert seqs[("dev-b", "gw-2")] == list(range(len(b)))
    assert run.collector.stats.duplicates == 50
    assert dict(run.collector.stats.rejected) == {"magic": 1, "device_id": 1, "mismatch": 1}
    con = sqlite3.connect(db)
    rows = con.execute("SELECT i.device_id, s.device_id, count(*), count(DISTINCT i.window_index), min(i.window_index),"
                       " max(i.window_index) FROM inferences i JOIN sessions s ON s.id = i.session_id"
                       " GROUP BY i.device_id ORDER BY i.device_id").fetchall()
    assert rows == [("dev-a", "dev-a", 300, 300, 0, 299), ("dev-b", "dev-b", 200, 200, 0, 199)]
    assert con.execute("SELECT count(*) FROM detections WHERE device_id = 'dev-a'").fetchone()[0] == 6
    assert con.execute("SELECT count(*) FROM status").fetchone()[0] == 30 + 20
    assert con.execute("SELECT count(*), min(top_class) FROM inferences WHERE top_class IN ('idle','wave','shake')"
                       ).fetchone()[0] == 500  # class names came from each device's own hello


def test_what_was_published_while_the_collector_was_away_arrives(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    msgs = fleet_messages("dev-a", 2000)
    with RunningCollector(broker.url, db):  # the first run makes the persistent subscription
        publish(broker.url, msgs[:10])
        wait_for(lambda: len(stored_sequences(db).get(("dev-a", "gw-test"), [])) == 10, DEADLINE, "10 messages")
    publish(broker.url, msgs[10:])  # nobody listening: the broker queues (more than its default 1000)
    with RunningCollector(broker.url, db) as run:
        wait_for(lambda: len(stored_sequences(db).get(("dev-a", "gw-test"), [])) == len(msgs), DEADLINE,
                 "the queued messages")
    assert stored_sequences(db)[("dev-a", "gw-test")] == list(range(len(msgs)))
    assert run.collector.stats.duplicates == 0
