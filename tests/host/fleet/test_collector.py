"""The collector against a real Mosquitto: what a plain MQTT client publishes lands in the log's
tables once, bad messages are counted and skipped, and messages published while the collector
was away arrive when it is back (persistent session)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from edgeloop.fleet.broker import parse_broker
from edgeloop.fleet.collector import Collector
from edgeloop.log.store import Store
from tests.tools.fleet_frames import fleet_messages, publish, stored_sequences, wait_for

DEADLINE = 120  # seconds; conditions are polled, this only bounds a broken run


class Running:
    """A Collector on its own thread until stopped."""

    def __init__(self, url, db, client_id="c-test"):
        self.url, self.db, self.client_id = url, db, client_id
        self.logs = []
        self.collector = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error = None

    def _run(self):
        try:
            with Store(self.db) as store:  # SQLite connections belong to the thread that made them
                self.collector = Collector(parse_broker(self.url), store, client_id=self.client_id, retry=0.2,
                                           log=self.logs.append)
                self.collector.run(should_stop=self._stop.is_set)
        except BaseException as e:  # surfaced by __exit__
            self.error = e

    def connected(self):
        if self.error:
            raise self.error
        return self.collector is not None and self.collector.stats.connects

    def __enter__(self):
        self.thread.start()
        wait_for(self.connected, DEADLINE, "the collector to connect")
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(DEADLINE)
        if self.error:
            raise self.error


def test_each_message_lands_once_in_the_log_tables(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    a = fleet_messages("dev-a", 300, gateway_id="gw-1", detect_every=50)
    b = fleet_messages("dev-b", 200, gateway_id="gw-2")
    with Running(broker.url, db) as run:
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
    with Running(broker.url, db):  # the first run makes the persistent subscription
        publish(broker.url, msgs[:10])
        wait_for(lambda: len(stored_sequences(db).get(("dev-a", "gw-test"), [])) == 10, DEADLINE, "10 messages")
    publish(broker.url, msgs[10:])  # nobody listening: the broker queues (more than its default 1000)
    with Running(broker.url, db) as run:
        wait_for(lambda: len(stored_sequences(db).get(("dev-a", "gw-test"), [])) == len(msgs), DEADLINE,
                 "the queued messages")
    assert stored_sequences(db)[("dev-a", "gw-test")] == list(range(len(msgs)))
    assert run.collector.stats.duplicates == 0
