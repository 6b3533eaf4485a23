"""The gateway's on-disk queue: frames wait here until a collector confirmed it stored them.

Why it is built this way:
- SQLite (WAL, synchronous=NORMAL), one transaction per batch of frames: a killed gateway keeps
  every frame it queued; only a power cut can take the last commits back.
- Each message is stored as it will be published (topic and payload, the sequence number already
  in its header): a restarted gateway resends the same bytes, so the collector recognises a
  message it stored before the restart, and sequences are never reused (`sequences`).
- Row ids only grow (AUTOINCREMENT): they are the order of sending.
- A row is one MQTT message: a batch of up to gateway.BATCH_FRAMES frames of one device and kind.
- Bounded: past `limit` messages the oldest are dropped and counted (`dropped`, kept in the file).
  Published messages that wait for their confirmation are rows like the others and count too.
- A row leaves only through `remove`, which the gateway calls with confirmed messages only; the
  file needs no mark for "published": whatever is in it is unconfirmed, and a restarted gateway
  sends all of it again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edgeloop.errors import EdgeloopError

from . import wire

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
    " payload BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sequences (device_id TEXT PRIMARY KEY, next INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
]


class OutboxError(EdgeloopError):
    pass


class Outbox:
    def __init__(self, path: str | Path, gateway_id: str, *, limit: int = 1_000_000):
        self.path, self.gateway_id, self.limit = Path(path), wire.check_id(gateway_id, "gateway id", 16), limit
        if limit < 1:
            raise OutboxError("the queue limit must be at least 1 message")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for sql in _SCHEMA:
                self._db.execute(sql)
            self._next = dict(self._db.execute("SELECT device_id, next FROM sequences"))
            self.size = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        except sqlite3.Error as e:
            raise OutboxError(f"cannot use {self.path} as the gateway's queue: {e}; pass --queue with "
                              "another file") from None
        self.dropped = row[0] if row else 0

    def put_many(self, items) -> int:
        """Queue (device_id, kind, frames) items in order, in one transaction, each one message
        (`frames`: a list of one device's frames of one kind, a batch, or a single frame); returns
        how many of the oldest messages were dropped to stay within the limit."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            rows, touched = [], {}
            for device_id, kind, frames in items:
                if isinstance(frames, (bytes, bytearray)):
                    frames = [frames]
                seq = self._next.get(device_id, 0)
                rows.append((wire.topic(device_id, kind), wire.encode(self.gateway_id, seq, frames)))
                self._next[device_id] = touched[device_id] = seq + len(frames)
            db.executemany("INSERT INTO outbox (topic, payload) VALUES (?, ?)", rows)
            db.executemany("INSERT OR REPLACE INTO sequences (device_id, next) VALUES (?, ?)", touched.items())
            over = self.size + len(rows) - self.limit
            dropped = 0
            if over > 0:
                dropped = db.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                                     (over,)).rowcount
                db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES ('dropped', ?)",
                           (self.dropped + dropped,))
            db.execute("COMMIT")
        except sqlite3.Error as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._next = dict(db.execute("SELECT device_id, next FROM sequences"))
            raise OutboxError(f"the gateway's queue {self.path} failed: {e}") from None
        self.size += len(rows) - dropped
        self.dropped += dropped
        return dropped

    def after(self, last_id: int, limit: int) -> list[tuple[int, str, bytes]]:
        """The next `limit` messages after row `last_id`, oldest first."""
        return self._db.execute("SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                                (last_id, limit)).fetchall()

    def get(self, ids) -> list[tuple[int, str, bytes]]:
        """The messages of rows `ids` still queued (a dropped one is missing), oldest first."""
        ids, out = list(ids), []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out += self._db.execute(f"SELECT id, topic, payload FROM outbox WHERE id IN ({','.join('?' * len(part))})",
                                    part).fetchall()
        return sorted(out)

    def remove(self, ids) -> None:
        """Forget messages a collector confirmed (ids already dropped or removed are ignored)."""
        ids = list(ids)
        if not ids:
            return
        try:
            self._db.execute("BEGIN")
            n = 0
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                n += self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(part))})", part).rowcount
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutboxError(f"the gateway's queue {self.path} failed: {e}") from None
        self.size -= n

    def close(self) -> None:
        self._db.close()
