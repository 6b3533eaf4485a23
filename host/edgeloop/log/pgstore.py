"""The inference log in PostgreSQL, for `--db postgresql://USER@HOST[:PORT]/DB` (docs/fleet.md).

The same tables and columns as the SQLite log (store.py, schema 6), so a query that reads one
reads the other. A collector writes through it (FleetSink): sessions, inferences, samples,
status, detections, kept windows, events and the fleet_messages key, one transaction per
batch, committed by `flush`; the key and the rows of a message commit together. `export`,
`label`, `drift` and `retrain` read it (and `label` writes labels) through the interface both
logs share (store.LogBase): `query` takes SQL in SQLite's spelling and `_pg` respells it
(`?` placeholders, the reserved word `window`), rows read by name or position as sqlite3.Row.
Migrations are numbered like SQLite's, the version kept in the table edgeloop_schema.
psycopg 3 is imported only when a PgStore is made.
"""

from __future__ import annotations

import json
import re
import time

from edgeloop.errors import StoreError

from .store import (SCHEMA_VERSION, _INSERT_INFERENCE, _INSERT_SAMPLES, _INSERT_STATUS, LogBase, _scores_text,
                    _tables_of, inference_row, int16_blob)

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sessions (
        id BIGSERIAL PRIMARY KEY, started DOUBLE PRECISION NOT NULL, port TEXT, device_id TEXT, board TEXT,
        firmware TEXT, model_hash TEXT, sensor TEXT, units TEXT, scale DOUBLE PRECISION, rate_hz INTEGER,
        channels INTEGER, "window" INTEGER, hop INTEGER, classes TEXT)""",
    """CREATE TABLE IF NOT EXISTS inferences (
        id BIGSERIAL PRIMARY KEY, session_id BIGINT REFERENCES sessions(id), device_id TEXT, board TEXT,
        firmware TEXT, model_hash TEXT, seq INTEGER, device_ms BIGINT, host_time DOUBLE PRECISION NOT NULL,
        window_index BIGINT, top INTEGER, top_class TEXT, confidence DOUBLE PRECISION, scores TEXT,
        latency_us BIGINT, window_channels INTEGER, "window" BYTEA)""",
    "CREATE INDEX IF NOT EXISTS inferences_time ON inferences(host_time)",
    """CREATE TABLE IF NOT EXISTS samples (
        id BIGSERIAL PRIMARY KEY, session_id BIGINT REFERENCES sessions(id), seq INTEGER, device_ms BIGINT,
        host_time DOUBLE PRECISION NOT NULL, sample_index BIGINT, rate_hz INTEGER, channels INTEGER,
        label TEXT, data BYTEA)""",
    """CREATE TABLE IF NOT EXISTS status (
        id BIGSERIAL PRIMARY KEY, session_id BIGINT, device_ms BIGINT, host_time DOUBLE PRECISION,
        capture_us BIGINT, features_us BIGINT, inference_us BIGINT, free_heap BIGINT, dropped BIGINT,
        mode INTEGER)""",
    """CREATE TABLE IF NOT EXISTS events (
        id BIGSERIAL PRIMARY KEY, session_id BIGINT, host_time DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
        detail TEXT)""",
    """CREATE TABLE IF NOT EXISTS detections (
        id BIGSERIAL PRIMARY KEY, session_id BIGINT REFERENCES sessions(id), device_id TEXT, board TEXT,
        firmware TEXT, model_hash TEXT, seq INTEGER, device_ms BIGINT, host_time DOUBLE PRECISION NOT NULL,
        time_ms BIGINT, window_index BIGINT, class_index INTEGER, class_name TEXT, score DOUBLE PRECISION)""",
    """CREATE TABLE IF NOT EXISTS kept (
        id BIGSERIAL PRIMARY KEY, session_id BIGINT REFERENCES sessions(id),
        inference_id BIGINT NOT NULL REFERENCES inferences(id), device_id TEXT, board TEXT, firmware TEXT,
        model_hash TEXT, rule TEXT NOT NULL, source TEXT NOT NULL, record BIGINT, seq INTEGER, device_ms BIGINT,
        host_time DOUBLE PRECISION NOT NULL, window_index BIGINT, window_channels INTEGER NOT NULL,
        "window" BYTEA NOT NULL, features INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS labels (
        inference_id BIGINT PRIMARY KEY REFERENCES inferences(id), label TEXT NOT NULL, source TEXT NOT NULL,
        updated DOUBLE PRECISION NOT NULL)""",
    # sequence: the wire's u64; BIGINT holds up to 2^63 - 1 (a gateway sending 10^6 a second for 290 000 years)
    """CREATE TABLE IF NOT EXISTS fleet_messages (
        device_id TEXT NOT NULL, gateway_id TEXT NOT NULL, sequence BIGINT NOT NULL, kind TEXT NOT NULL,
        frame_seq INTEGER, received DOUBLE PRECISION NOT NULL, PRIMARY KEY (device_id, gateway_id, sequence))""",
]

# (version, statements) as store.MIGRATIONS: a PostgreSQL log starts at 6 (the tables above, all
# of SQLite's schema 6); a later SQLite migration needs its PostgreSQL twin here
# (tests/host/log/test_pg_read.py checks both logs have the same tables and columns).
MIGRATIONS: list[tuple[int, list[str]]] = [(6, _SCHEMA)]


_WINDOW = re.compile(r'(?<![\w"])window(?![\w"])')


def _pg(sql: str) -> str:
    """The SQLite statement in PostgreSQL's spelling: %s placeholders (a literal % doubled),
    "window" quoted (a reserved word in PostgreSQL, a plain name in SQLite)."""
    return _WINDOW.sub('"window"', sql.replace("%", "%%").replace("?", "%s"))


# the columns of store._INSERT_INFERENCE, in its order (inference_row's)
_COPY_INFERENCES = _pg("COPY inferences (" + _INSERT_INFERENCE.split("(", 1)[1].split(")", 1)[0] + ") FROM STDIN")


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


class _Row(tuple):
    """A result row read by column name or position, as sqlite3.Row is."""

    __slots__ = ()
    names: dict[str, int] = {}

    def __getitem__(self, key):
        return tuple.__getitem__(self, self.names[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor):
    """psycopg row factory: rows of one result, named by its columns."""
    names: dict[str, int] = {}
    for i, d in enumerate(cursor.description or ()):
        names.setdefault(d.name, i)
    return type("Row", (_Row,), {"__slots__": (), "names": names})


def shown(url: str) -> str:
    """The URL without its password or options, for messages and files (USER@HOST:PORT/DB)."""
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    user, at, host = rest.rpartition("@")
    return (user.split(":", 1)[0] + at if at else "") + host


class PgStore(LogBase):
    def __init__(self, url: str, *, readonly: bool = False):
        try:
            import psycopg
        except ImportError:
            raise StoreError("--db postgresql://... needs psycopg: pip install 'psycopg[binary]'") from None
        self._psycopg = psycopg
        self.path = shown(url)  # for messages: never the password
        self.session_id: int | None = None
        self._session: dict | None = None
        self._inferences: list[tuple] = []  # rows add_inference queued (_insert_queued)
        try:
            self._db = psycopg.connect(url, autocommit=False, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"cannot reach the database {self.path}: {_one_line(e)}; check the host, port, "
                             "user and database name in --db, and that PostgreSQL is running") from None
        try:
            if readonly:
                self._db.read_only = True  # one read-only transaction: every query sees the same log
                self._version = self._check_schema()
            else:
                self._version = self._migrate()
        except (psycopg.Error, StoreError) as e:
            db, self._db = self._db, None
            db.close()
            if isinstance(e, StoreError):
                raise
            raise StoreError(f"cannot use the database {self.path}: {_one_line(e)}") from None

    # -- schema -----------------------------------------------------------------
    def _migrate(self) -> int:
        # A log already at this edgeloop's schema is used as it is: a role that may only insert and
        # read (the collector's, `edgeloop fleet db-roles`) could not run even CREATE ... IF NOT
        # EXISTS, which needs the right to create in the schema.
        with self._db.transaction():
            if self._db.execute("SELECT to_regclass('edgeloop_schema')").fetchone()[0] is not None:
                version = self._db.execute("SELECT max(version) FROM edgeloop_schema").fetchone()[0] or 0
                if version >= MIGRATIONS[-1][0]:
                    self._refuse_newer(version)
                    return version
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(7244051)")  # one migrator at a time
            self._db.execute("CREATE TABLE IF NOT EXISTS edgeloop_schema (version INTEGER NOT NULL)")
            version = self._db.execute("SELECT max(version) FROM edgeloop_schema").fetchone()[0] or 0
            self._refuse_newer(version)
            for v, statements in MIGRATIONS:
                if v > version:
                    for sql in statements:
                        self._db.execute(sql)
                    self._db.execute("INSERT INTO edgeloop_schema (version) VALUES (%s)", (v,))
                    version = v
        return version

    def _check_schema(self) -> int:
        """The log's schema version, refusing a database this edgeloop cannot read."""
        tables = {r[0] for r in self._db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
        if "edgeloop_schema" not in tables:
            found = f"tables {', '.join(sorted(tables))}" if tables else "no tables"
            raise StoreError(f"the database {self.path} holds no edgeloop log ({found}); pass --db with the "
                             "database `edgeloop collect` wrote")
        version = self._db.execute("SELECT max(version) FROM edgeloop_schema").fetchone()[0] or 0
        self._refuse_newer(version)
        missing = sorted(_tables_of(version) - tables)
        if missing:
            raise StoreError(f"the database {self.path} is not an edgeloop log (schema {version} but no "
                             f"{', '.join(missing)} table); pass --db with the database `edgeloop collect` wrote")
        return version

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} holds a log of a newer edgeloop (schema {version}; this one knows up to "
                             f"{SCHEMA_VERSION}); upgrade edgeloop (pip install -U edgeloop)")

    @property
    def schema_version(self) -> int:
        return self._version

    def _run(self, sql: str, row: tuple = ()):
        try:
            self._insert_queued()
            return self._db.execute(_pg(sql), row)
        except self._psycopg.Error as e:
            self._rollback()
            raise StoreError(f"the database {self.path} failed: {_one_line(e)}") from None

    def _insert_queued(self) -> None:
        """The queued inference rows, in one COPY (one round trip and the server's bulk path, where
        an INSERT per row costs a parse, plan and execute each): before any other statement, so a
        query sees them, and before the commit."""
        rows = self._inferences
        if rows:
            self._inferences = []
            with self._db.cursor() as cur, cur.copy(_COPY_INFERENCES) as copy:
                for row in rows:
                    copy.write_row(row)

    def _rollback(self) -> None:
        self._inferences = []
        try:
            self._db.rollback()
        except self._psycopg.Error:
            pass

    # -- what a collector writes --------------------------------------------------
    def claim_messages(self, device_id: str, gateway_id: str, kind: str, items) -> set[int]:
        """Note the frames of one batch as stored, in one statement: `items` are (sequence,
        frame_seq); returns the sequences that were new (a redelivery's are not). As claim_message,
        the rows the caller adds for them commit in the same transaction."""
        items = list(items)
        cur = self._claim(
            "INSERT INTO fleet_messages (device_id, gateway_id, sequence, kind, frame_seq, received)"
            " SELECT ?, ?, s, ?, f, ? FROM unnest(?::bigint[], ?::integer[]) AS t(s, f)"
            " ON CONFLICT DO NOTHING RETURNING sequence",
            (device_id, gateway_id, kind, time.time(), [i[0] for i in items], [i[1] for i in items]))
        return {r[0] for r in cur.fetchall()}

    def _claim(self, sql: str, row: tuple):
        """As _run, without sending the queued rows first: a key needs none of them, and they then
        go in one COPY per commit instead of one per batch."""
        try:
            return self._db.execute(_pg(sql), row)
        except self._psycopg.Error as e:
            self._rollback()
            raise StoreError(f"the database {self.path} failed: {_one_line(e)}") from None

    def claim_message(self, device_id: str, gateway_id: str, sequence: int, kind: str, frame_seq: int) -> bool:
        cur = self._claim("INSERT INTO fleet_messages (device_id, gateway_id, sequence, kind, frame_seq, received)"
                          " VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                        (device_id, gateway_id, sequence, kind, frame_seq, time.time()))
        return cur.rowcount == 1

    def use_session(self, session_id: int | None, hello: dict) -> None:
        self.session_id, self._session = session_id, hello

    def latest_session(self, device_id: str) -> tuple[int, dict] | None:
        row = self._run("SELECT id, device_id, board, firmware, model_hash, sensor, units, scale, rate_hz, channels,"
                        ' "window", hop, classes FROM sessions WHERE device_id = ? ORDER BY id DESC LIMIT 1',
                        (device_id,)).fetchone()
        if row is None:
            return None
        keys = ("device_id", "board", "firmware", "model_hash", "sensor", "units", "scale", "rate_hz", "channels",
                "window", "hop")
        hello = dict(zip(keys, row[1:12]))
        hello["classes"] = json.loads(row[12] or "[]")
        return row[0], hello

    def begin_session(self, hello: dict, port: str = "") -> int:
        self._session = dict(hello)
        h = hello
        self.session_id = self._run(
            "INSERT INTO sessions (started, port, device_id, board, firmware, model_hash, sensor, units,"
            " scale, rate_hz, channels, window, hop, classes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (time.time(), port, h.get("device_id"), h.get("board"), h.get("firmware"), h.get("model_hash"),
             h.get("sensor"), h.get("units"), h.get("scale"), h.get("rate_hz"), h.get("channels"),
             h.get("window"), h.get("hop"), json.dumps(list(h.get("classes", []))))).fetchone()[0]
        return self.session_id

    def add_inference(self, f: dict, seq: int, device_ms: int, host_time: float | None = None) -> None:
        """Queued, sent with the next statement or commit (_insert_queued): the bulk of a log."""
        self._inferences.append(inference_row(self.session_id, self._session, f, seq, device_ms, host_time))

    def add_samples(self, f: dict, seq: int, device_ms: int, host_time: float | None = None,
                    label: str | None = None, data_le: bytes | None = None) -> None:
        self._run(_INSERT_SAMPLES, (self.session_id, seq, device_ms, time.time() if host_time is None else host_time,
                                    f["sample_index"], f["rate_hz"], f["channels"], label,
                                    int16_blob(f["data"]) if data_le is None else data_le))

    def add_status(self, f: dict, device_ms: int) -> None:
        self._run(_INSERT_STATUS, (self.session_id, device_ms, time.time(), f["capture_us"], f["features_us"],
                                   f["inference_us"], f["free_heap"], f["dropped"], f["mode"]))

    def add_event(self, kind: str, detail: str = "") -> None:
        self._run("INSERT INTO events (session_id, host_time, kind, detail) VALUES (?,?,?,?)",
                  (self.session_id, time.time(), kind, detail))

    def add_detection(self, f: dict, seq: int, device_ms: int, host_time: float | None = None) -> None:
        s = self._session or {}
        classes = s.get("classes") or []
        c = f["class_index"]
        self._run(
            "INSERT INTO detections (session_id, device_id, board, firmware, model_hash, seq, device_ms,"
            " host_time, time_ms, window_index, class_index, class_name, score) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (self.session_id, s.get("device_id"), s.get("board"), s.get("firmware"),
             f.get("model_hash") or s.get("model_hash"), seq, device_ms,
             time.time() if host_time is None else host_time, f["time_ms"], f.get("window_index"), c,
             classes[c] if c < len(classes) else str(c), round(f["score"] / 65535, 6)))

    def add_kept(self, f: dict, seq: int, device_ms: int, host_time: float | None = None) -> int | None:
        """As Store.add_kept: tied to the inference the board sent beside it, or to one made from it."""
        from edgeloop_fw.protocol import RULE_NAMES

        s = self._session or {}
        host_time = time.time() if host_time is None else host_time
        if f["ring"] and self._run(
                "SELECT 1 FROM kept WHERE source = 'ring' AND record = ? AND device_id IS NOT DISTINCT FROM ?"
                " AND board IS NOT DISTINCT FROM ? AND device_ms = ? AND window_index = ?",
                (f["record"], s.get("device_id"), s.get("board"), f["t_ms"], f["window_index"])).fetchone():
            return None
        row = self._run("SELECT id FROM inferences WHERE session_id IS NOT DISTINCT FROM ? AND window_index = ?"
                        " AND device_ms = ? AND scores = ? ORDER BY id DESC LIMIT 1",
                        (self.session_id, f["window_index"], f["t_ms"], _scores_text(f["scores"]))).fetchone()
        if row is None:
            row = self._run(_INSERT_INFERENCE + " RETURNING id", inference_row(
                self.session_id, s, dict(f, window=None if f.get("features") else f["window"]), None, f["t_ms"],
                host_time,
                firmware=f["firmware"])).fetchone()
        return self._run(
            "INSERT INTO kept (session_id, inference_id, device_id, board, firmware, model_hash, rule, source,"
            " record, seq, device_ms, host_time, window_index, window_channels, window, features)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (self.session_id, row[0], s.get("device_id"), s.get("board"), f["firmware"], f["model_hash"],
             RULE_NAMES[f["rule"]], "ring" if f["ring"] else "live", f["record"] if f["ring"] else None, seq,
             f["t_ms"], host_time, f["window_index"], f["window_channels"], int16_blob(f["window"]),
             1 if f.get("features") else 0)).fetchone()[0]

    # -- reading, and the rare writes of a reader (labels) ----------------------------
    def query(self, sql: str, params: tuple = ()) -> list:
        """Rows of `sql` (SQLite's spelling), read by column name or position."""
        try:
            with self._db.cursor(row_factory=_rows) as cur:
                cur.execute(_pg(sql), tuple(params))
                return cur.fetchall()
        except self._psycopg.Error as e:
            self._rollback()
            raise StoreError(f"the database {self.path} failed: {_one_line(e)}") from None

    def write_many(self, sql: str, rows: list[tuple]) -> None:
        """Rows that must land together (a label file): one transaction, committed now, or none of them."""
        try:
            with self._db.cursor() as cur:
                cur.executemany(_pg(sql), rows)
        except self._psycopg.Error as e:
            self._rollback()
            raise StoreError(f"the database {self.path} failed: {_one_line(e)}") from None
        self.flush()

    # -- transactions -------------------------------------------------------------------
    def flush(self) -> None:
        try:
            self._insert_queued()
            self._db.commit()
        except self._psycopg.Error as e:
            self._rollback()
            raise StoreError(f"the database {self.path} failed to commit: {_one_line(e)}") from None
