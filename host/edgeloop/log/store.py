"""The inference log: a SQLite file that keeps everything needed to retrain.

Why it is built this way:
- WAL journal with synchronous=NORMAL: a commit is durable against a crash of
  this process (or the board) without an fsync per frame; only a power cut
  can take the last commits back.
- Rows are committed in small batches bounded by count AND time
  (`batch_rows`, `batch_seconds`), and always when the caller flushes on an
  idle link, so a host crash loses at most a fraction of a second of frames.
  The frequent rows (inferences, samples, status) wait in a Python list and
  go in with one executemany per table per batch: one statement per frame
  cost more than parsing the frame.
- Numbered migrations, each applied once inside one transaction that also
  bumps `PRAGMA user_version`: opening an old log upgrades it; opening a
  current one changes nothing.
- Detections (MSG_DETECTION) have their own table: they are rare decisions,
  not model outputs, and each is committed at once rather than batched.
- Kept windows (MSG_KEPT, the board's capture rules) have their own table too,
  each row pointing at its inference row and carrying its provenance (rule,
  model hash, firmware, board, device id, live or from the board's ring);
  committed at once.
- Every failure leaves as StoreError naming the file and what to do; a failed
  commit rolls back only the batch in flight, never what was committed.
- No connection is opened at import: `Store(path)` does it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import time
from array import array
from pathlib import Path

from edgeloop.errors import StoreError

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY, started REAL NOT NULL, port TEXT, device_id TEXT, board TEXT,
            firmware TEXT, model_hash TEXT, sensor TEXT, units TEXT, scale REAL, rate_hz INTEGER,
            channels INTEGER, window INTEGER, hop INTEGER, classes TEXT)""",
        """CREATE TABLE inferences (
            id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id), device_id TEXT,
            board TEXT, firmware TEXT, model_hash TEXT, seq INTEGER, device_ms INTEGER,
            host_time REAL NOT NULL, window_index INTEGER, top INTEGER, top_class TEXT,
            confidence REAL, scores TEXT, latency_us INTEGER, window_channels INTEGER,
            window BLOB)""",
        "CREATE INDEX inferences_time ON inferences(host_time)",
        "CREATE INDEX inferences_model ON inferences(model_hash)",
        """CREATE TABLE samples (
            id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id), seq INTEGER,
            device_ms INTEGER, host_time REAL NOT NULL, sample_index INTEGER, rate_hz INTEGER,
            channels INTEGER, label TEXT, data BLOB)""",
        """CREATE TABLE status (
            id INTEGER PRIMARY KEY, session_id INTEGER, device_ms INTEGER, host_time REAL,
            capture_us INTEGER, features_us INTEGER, inference_us INTEGER, free_heap INTEGER,
            dropped INTEGER, mode INTEGER)""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY, session_id INTEGER, host_time REAL NOT NULL, kind TEXT NOT NULL,
            detail TEXT)""",
    ]),
    # MSG_DETECTION: a detector's decisions (keyword spotter), one row each, beside the inferences
    # they were decided on (same session_id and window_index).
    (2, [
        """CREATE TABLE detections (
            id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id), device_id TEXT,
            board TEXT, firmware TEXT, model_hash TEXT, seq INTEGER, device_ms INTEGER,
            host_time REAL NOT NULL, time_ms INTEGER, window_index INTEGER, class_index INTEGER,
            class_name TEXT, score REAL)""",
        "CREATE INDEX detections_time ON detections(host_time)",
    ]),
    # MSG_KEPT: the windows the board's capture rules kept, each tied to its inference row (the one the
    # board sent beside it, or one made from the kept frame when it came from the board's flash ring),
    # with its provenance: the rule, model hash, firmware, board, device id, and whether it waited in the ring.
    (3, [
        """CREATE TABLE kept (
            id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id),
            inference_id INTEGER NOT NULL REFERENCES inferences(id), device_id TEXT, board TEXT,
            firmware TEXT, model_hash TEXT, rule TEXT NOT NULL, source TEXT NOT NULL, record INTEGER,
            seq INTEGER, device_ms INTEGER, host_time REAL NOT NULL, window_index INTEGER,
            window_channels INTEGER NOT NULL, window BLOB NOT NULL)""",
        "CREATE INDEX kept_inference ON kept(inference_id)",
        "CREATE INDEX kept_time ON kept(host_time)",
    ]),
    # Labels a person gave logged windows (`edgeloop label`): one current label per inference,
    # where it came from and when.
    (4, [
        """CREATE TABLE IF NOT EXISTS labels (
            inference_id INTEGER PRIMARY KEY REFERENCES inferences(id), label TEXT NOT NULL,
            source TEXT NOT NULL, updated REAL NOT NULL)""",
    ]),
    # Kept keyword windows are the model's int8 input features (MSG_KEPT layout 2), not sensor
    # samples: `features` 1 says so (window_channels = features per frame).
    (5, [
        "ALTER TABLE kept ADD COLUMN features INTEGER NOT NULL DEFAULT 0",
    ]),
    # Fleet messages a collector stored (docs/fleet.md), one row per gateway sequence number of a
    # device: the key that makes a redelivered MQTT message land once. Its row commits in the same
    # transaction as the rows the message added.
    (6, [
        """CREATE TABLE IF NOT EXISTS fleet_messages (
            device_id TEXT NOT NULL, gateway_id TEXT NOT NULL, sequence INTEGER NOT NULL,
            kind TEXT NOT NULL, frame_seq INTEGER, received REAL NOT NULL,
            PRIMARY KEY (device_id, gateway_id, sequence))""",
    ]),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]

_INSERT_INFERENCE = (
    "INSERT INTO inferences (session_id, device_id, board, firmware, model_hash, seq, device_ms,"
    " host_time, window_index, top, top_class, confidence, scores, latency_us, window_channels, window)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
_INSERT_SAMPLES = (
    "INSERT INTO samples (session_id, seq, device_ms, host_time, sample_index, rate_hz, channels,"
    " label, data) VALUES (?,?,?,?,?,?,?,?,?)")
_INSERT_STATUS = (
    "INSERT INTO status (session_id, device_ms, host_time, capture_us, features_us, inference_us,"
    " free_heap, dropped, mode) VALUES (?,?,?,?,?,?,?,?,?)")


def int16_blob(values) -> bytes:
    """int16 little-endian bytes, the layout the board sent (and export reads)."""
    a = array("h", values)
    if sys.byteorder == "big":
        a.byteswap()
    return a.tobytes()


def _scores_text(q16) -> str:
    """Q0.16 scores as the log stores them: probabilities to 6 places, JSON text (repr = json's float form)."""
    return "[" + ", ".join(repr(round(v / 65535, 6)) for v in q16) + "]"


def inference_row(session_id, session: dict | None, f: dict, seq: int | None, device_ms: int,
                  host_time: float | None, firmware: str | None = None) -> tuple:
    """An inferences row (the columns of _INSERT_INFERENCE) from a decoded inference or kept frame."""
    s = session or {}
    classes = s.get("classes") or []
    scores = [round(v / 65535, 6) for v in f["scores"]]
    top = f["top"]
    window = f.get("window")
    return (session_id, s.get("device_id"), s.get("board"), firmware or s.get("firmware"),
            f.get("model_hash") or s.get("model_hash"), seq, device_ms,
            time.time() if host_time is None else host_time, f["window_index"], top,
            classes[top] if top < len(classes) else str(top), scores[top] if top < len(scores) else None,
            _scores_text(f["scores"]), f["latency_us"],
            f.get("window_channels") if window is not None else None,
            int16_blob(window) if window is not None else None)


def blob_int16(blob: bytes) -> array:
    a = array("h")
    a.frombytes(blob)
    if sys.byteorder == "big":
        a.byteswap()
    return a


def _explain(path: Path, e: sqlite3.Error) -> str:
    text = str(e)
    low = text.lower()
    if "full" in low or "too large" in low or "disk i/o" in low:
        return (f"cannot write the log {path}: the disk is full ({text}); free some space or pass "
                "--db on another disk — everything committed before is kept")
    if "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
        return (f"cannot write the log {path}: {text}; pass --db with a path in a folder you can write to")
    if "not a database" in low or "malformed" in low:
        return f"{path} is not an edgeloop log ({text}); pass --db with a new file name"
    return f"the log {path} failed: {text}"


def _tables_of(version: int) -> set[str]:
    """The tables a log of schema `version` has: those its migrations created."""
    return {m.group(1) for v, statements in MIGRATIONS if v <= version for sql in statements
            for m in [re.match(r"\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql)] if m}


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open a log for reading without writing a byte, even in a read-only folder or from a 0444 file.

    SQLite reads a WAL database read-only (mode=ro) only if it can create the -shm index beside
    it; where it cannot, a log with no -wal file (closed cleanly: everything is in the main file)
    is read as an immutable file instead. A log with unmerged -wal pages that SQLite cannot
    index is refused by the caller with SQLite's reason."""
    uri = path.absolute().as_uri()
    db = sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.Error as e:
        db.close()
        wal = Path(f"{path}-wal")
        if not isinstance(e, sqlite3.OperationalError) or wal.exists() and wal.stat().st_size:
            raise
    db = sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None)
    db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return db


TABLES = ("inferences", "samples", "status", "events", "sessions", "detections", "kept", "labels", "fleet_messages")


class LogBase:
    """What the SQLite log and the PostgreSQL log (pgstore.py) share, so a reader holds either:
    `query` (rows read by name or position, SQL in SQLite's spelling), `schema_version`,
    `write_many`, `flush`; closing commits first; `with` closes."""

    _db = None

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is None:
            return
        try:
            self.flush()
        finally:
            self._db = None
            db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(table)
        return self.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]


class Store(LogBase):
    """An append-mostly log of one or more board sessions."""

    def __init__(self, path: str | Path, *, batch_rows: int = 256, batch_seconds: float = 0.1,
                 readonly: bool = False):
        self.path = Path(path)
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self._pending = 0
        self._last_commit = time.monotonic()
        self._session: dict | None = None
        self.session_id: int | None = None
        self.committed = {"inferences": 0, "samples": 0, "detections": 0, "kept": 0}
        self._uncommitted = {"inferences": 0, "samples": 0, "detections": 0, "kept": 0}
        self._rows: dict[str, list] = {_INSERT_INFERENCE: [], _INSERT_SAMPLES: [], _INSERT_STATUS: []}
        try:
            if self.path.exists() and not self.path.is_file():
                raise StoreError(f"{self.path} is not a regular file (a device, folder or pipe); pass --db with "
                                 "a file name such as log.sqlite")
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"no log at {self.path}; record one with `edgeloop monitor --db {self.path}`")
                self._db = _connect_readonly(self.path)
                self._check_schema(readonly=True)
                return
            if self.path.parent and not self.path.parent.exists():
                raise StoreError(f"cannot create the log {self.path}: folder {self.path.parent} does not exist; "
                                 "pass --db with a path in an existing folder")
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self._check_schema(readonly=False)  # before the WAL pragma: that alone writes to the file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (sqlite3.Error, StoreError) as e:
            db = getattr(self, "_db", None)
            if db is not None:
                db.close()
                self._db = None
            if isinstance(e, StoreError):
                raise
            raise StoreError(_explain(self.path, e)) from None

    # -- schema -------------------------------------------------------------
    def _migrate(self) -> None:
        for version, statements in MIGRATIONS:
            if self._db.execute("PRAGMA user_version").fetchone()[0] >= version:
                continue
            self._db.execute("BEGIN IMMEDIATE")
            try:
                # Re-check inside the lock: another process may have migrated meanwhile.
                if self._db.execute("PRAGMA user_version").fetchone()[0] < version:
                    for sql in statements:
                        self._db.execute(sql)
                    self._db.execute(f"PRAGMA user_version = {int(version)}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _check_schema(self, readonly: bool) -> None:
        """Refuse a file this edgeloop must not write or cannot read: a newer edgeloop's log, another
        program's database, a log missing the tables its schema version promises."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        where = "the file `edgeloop monitor` wrote" if readonly else "a new file name"
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} is a log of a newer edgeloop (schema {version}; this one knows up to "
                             f"{SCHEMA_VERSION}); upgrade edgeloop (pip install -U edgeloop) or pass --db with "
                             "a new file name")
        if version == 0 and (tables or readonly):
            found = f"tables {', '.join(sorted(tables))}" if tables else "no tables"
            raise StoreError(f"{self.path} is not an edgeloop log (an SQLite database with {found}); "
                             f"pass --db with {where}")
        missing = sorted(_tables_of(version) - tables)
        if missing:
            raise StoreError(f"{self.path} is not an edgeloop log (schema {version} but no {', '.join(missing)} "
                             f"table); pass --db with {where}")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    # -- writing ------------------------------------------------------------
    def _now(self, execute) -> None:
        """Run `execute(db)` in the open batch, after the queued rows; a failure rolls the batch back."""
        try:
            self._insert_queued()
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            execute(self._db)
        except sqlite3.Error as e:
            self._fail(e)

    def _write(self, sql: str, row: tuple, table: str | None = None) -> None:
        """A rare row (session, event): written now, in the open batch, after the queued rows."""
        self._now(lambda db: db.execute(sql, row))
        self._pending += 1
        if table:
            self._uncommitted[table] += 1
        self.maybe_commit()

    def write_many(self, sql: str, rows: list[tuple]) -> None:
        """Rows that must land together (a label file): one transaction, committed now, or none of them."""
        self._now(lambda db: db.executemany(sql, rows))
        self.flush()

    def _queue(self, sql: str, row: tuple, table: str | None = None) -> None:
        self._rows[sql].append(row)
        self._pending += 1
        if table:
            self._uncommitted[table] += 1
        if self._pending >= self.batch_rows or time.monotonic() - self._last_commit >= self.batch_seconds:
            self.flush()

    def _insert_queued(self) -> None:
        for sql, rows in self._rows.items():
            if rows:
                if not self._db.in_transaction:
                    self._db.execute("BEGIN")
                self._db.executemany(sql, rows)
                rows.clear()

    def _fail(self, e: sqlite3.Error):
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._pending = 0
        self._uncommitted = {k: 0 for k in self._uncommitted}
        for rows in self._rows.values():
            rows.clear()
        raise StoreError(_explain(self.path, e)) from None

    def begin_session(self, hello: dict, port: str = "") -> int:
        """Record the board's HELLO; later rows carry its identity. Commits at once."""
        self._session = dict(hello)
        h = hello
        self._write(
            "INSERT INTO sessions (started, port, device_id, board, firmware, model_hash, sensor, units,"
            " scale, rate_hz, channels, window, hop, classes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (time.time(), port, h.get("device_id"), h.get("board"), h.get("firmware"), h.get("model_hash"),
             h.get("sensor"), h.get("units"), h.get("scale"), h.get("rate_hz"), h.get("channels"),
             h.get("window"), h.get("hop"), json.dumps(list(h.get("classes", [])))))
        self.session_id = self._db.execute("SELECT last_insert_rowid()").fetchone()[0]
        self.flush()
        return self.session_id

    def claim_message(self, device_id: str, gateway_id: str, sequence: int, kind: str, frame_seq: int) -> bool:
        """Note a fleet message as stored, in the open batch; False when it was stored before (a
        redelivery). The rows the caller adds for it next commit in the same transaction, so a crash
        keeps both or neither."""
        new = []
        self._now(lambda db: new.append(db.execute(
            "INSERT OR IGNORE INTO fleet_messages (device_id, gateway_id, sequence, kind, frame_seq, received)"
            " VALUES (?,?,?,?,?,?)", (device_id, gateway_id, sequence, kind, frame_seq, time.time())).rowcount))
        if new[0]:
            self._pending += 1
        return new[0] == 1

    def use_session(self, session_id: int | None, hello: dict) -> None:
        """Make later rows belong to this session (a collector writes many boards' rows in turn)."""
        self.session_id, self._session = session_id, hello

    def latest_session(self, device_id: str) -> tuple[int, dict] | None:
        """The last session logged for a device, with its HELLO fields (a restarted collector
        carries on with it)."""
        rows = self.query("SELECT * FROM sessions WHERE device_id = ? ORDER BY id DESC LIMIT 1", (device_id,))
        if not rows:
            return None
        r = dict(rows[0])
        hello = {k: r[k] for k in ("device_id", "board", "firmware", "model_hash", "sensor", "units", "scale",
                                   "rate_hz", "channels", "window", "hop")}
        hello["classes"] = json.loads(r["classes"] or "[]")
        return r["id"], hello

    def _inference_row(self, f: dict, seq: int | None, device_ms: int, host_time: float | None,
                       firmware: str | None = None) -> tuple:
        return inference_row(self.session_id, self._session, f, seq, device_ms, host_time, firmware)

    def add_inference(self, f: dict, seq: int, device_ms: int, host_time: float | None = None) -> None:
        self._queue(_INSERT_INFERENCE, self._inference_row(f, seq, device_ms, host_time), "inferences")

    def add_detection(self, f: dict, seq: int, device_ms: int, host_time: float | None = None) -> None:
        """One MSG_DETECTION, committed now: `device_ms` is the frame's send time, f["time_ms"] the
        detector's own clock."""
        s = self._session or {}
        classes = s.get("classes") or []
        c = f["class_index"]
        self._write(
            "INSERT INTO detections (session_id, device_id, board, firmware, model_hash, seq, device_ms,"
            " host_time, time_ms, window_index, class_index, class_name, score) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (self.session_id, s.get("device_id"), s.get("board"), s.get("firmware"),
             f.get("model_hash") or s.get("model_hash"), seq, device_ms,
             time.time() if host_time is None else host_time, f["time_ms"], f.get("window_index"), c,
             classes[c] if c < len(classes) else str(c), round(f["score"] / 65535, 6)), "detections")
        self.flush()  # rare and the point of keyword mode: durable at once, with the rows before it

    def add_kept(self, f: dict, seq: int, device_ms: int, host_time: float | None = None) -> int | None:
        """One MSG_KEPT, committed now, tied to its inference row; returns the kept row's id (None when
        it is a ring record this log already holds: a board cut off before it freed a shipped record
        ships it again).

        A kept window joins the inference the board sent beside it (same session, window index,
        device time and scores; a ring record joins one too when it was stored in this session before
        the host's first ping); a ring record from an earlier run, or a kept window whose inference
        frame was lost, gets an inference row made from the kept frame itself (its scores, top,
        latency and window)."""
        from edgeloop_fw.protocol import RULE_NAMES

        s = self._session or {}
        host_time = time.time() if host_time is None else host_time
        try:
            self._insert_queued()
            if f["ring"] and self._db.execute(
                    "SELECT 1 FROM kept WHERE source = 'ring' AND record = ? AND device_id IS ? AND board IS ?"
                    " AND device_ms = ? AND window_index = ?",
                    (f["record"], s.get("device_id"), s.get("board"), f["t_ms"], f["window_index"])).fetchone():
                return None
            row = self._db.execute(
                "SELECT id FROM inferences WHERE session_id IS ? AND window_index = ? AND device_ms = ?"
                " AND scores = ? ORDER BY id DESC LIMIT 1",
                (self.session_id, f["window_index"], f["t_ms"], _scores_text(f["scores"]))).fetchone()
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            if row is None:
                # Features are not a sensor window: the inference row gets none (the kept row has them).
                self._db.execute(_INSERT_INFERENCE, self._inference_row(
                    dict(f, window=None if f.get("features") else f["window"]), None, f["t_ms"], host_time,
                    firmware=f["firmware"]))
                self._uncommitted["inferences"] += 1
                inference_id = self._db.execute("SELECT last_insert_rowid()").fetchone()[0]
            else:
                inference_id = row[0]
            self._db.execute(
                "INSERT INTO kept (session_id, inference_id, device_id, board, firmware, model_hash, rule, source,"
                " record, seq, device_ms, host_time, window_index, window_channels, window, features)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (self.session_id, inference_id, s.get("device_id"), s.get("board"), f["firmware"],
                 f["model_hash"], RULE_NAMES[f["rule"]], "ring" if f["ring"] else "live",
                 f["record"] if f["ring"] else None, seq, f["t_ms"], host_time, f["window_index"],
                 f["window_channels"], int16_blob(f["window"]), 1 if f.get("features") else 0))
            kept_id = self._db.execute("SELECT last_insert_rowid()").fetchone()[0]
        except sqlite3.Error as e:
            self._fail(e)
        self._pending += 1
        self._uncommitted["kept"] += 1
        self.flush()  # rare, and what the capture rules are for: durable at once
        return kept_id

    def add_samples(self, f: dict, seq: int, device_ms: int, host_time: float | None = None,
                    label: str | None = None, data_le: bytes | None = None) -> None:
        """`data_le`: the frame's int16 little-endian bytes as they came (saves re-encoding f["data"])."""
        self._queue(
            _INSERT_SAMPLES,
            (self.session_id, seq, device_ms, time.time() if host_time is None else host_time,
             f["sample_index"], f["rate_hz"], f["channels"], label,
             int16_blob(f["data"]) if data_le is None else data_le), "samples")

    def add_status(self, f: dict, device_ms: int) -> None:
        self._queue(
            _INSERT_STATUS,
            (self.session_id, device_ms, time.time(), f["capture_us"], f["features_us"],
             f["inference_us"], f["free_heap"], f["dropped"], f["mode"]))

    def add_event(self, kind: str, detail: str = "") -> None:
        self._write("INSERT INTO events (session_id, host_time, kind, detail) VALUES (?,?,?,?)",
                    (self.session_id, time.time(), kind, detail))

    def maybe_commit(self) -> bool:
        """Commit if the batch is full or old; returns whether it committed."""
        if self._pending and (self._pending >= self.batch_rows
                              or time.monotonic() - self._last_commit >= self.batch_seconds):
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Commit everything written so far (call it when the link goes idle)."""
        try:
            self._insert_queued()
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        except sqlite3.Error as e:
            self._fail(e)
        for k, v in self._uncommitted.items():
            self.committed[k] += v
        self._uncommitted = {k: 0 for k in self._uncommitted}
        self._pending = 0
        self._last_commit = time.monotonic()

    # -- reading ------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        try:
            cur = self._db.execute(sql, params)
            cur.row_factory = sqlite3.Row
            return cur.fetchall()
        except sqlite3.Error as e:
            raise StoreError(_explain(self.path, e)) from None
