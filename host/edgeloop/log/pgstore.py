"""The inference log in PostgreSQL, for `edgeloop collect --db postgresql://...` (docs/fleet.md).

The same tables and columns as the SQLite log (store.py, schema 6), so a query that reads one
reads the other (`window` is quoted: a reserved word in PostgreSQL). It offers what a collector
writes through (FleetSink): sessions, inferences, samples, status, detections, kept windows,
events and the fleet_messages key. One transaction per batch, committed by `flush`; the key and
the rows of a message commit together. psycopg 3 is imported only when a PgStore is made.
"""

from __future__ import annotations

import json
import time

from edgeloop.errors import StoreError

from .store import SCHEMA_VERSION, _INSERT_INFERENCE, _INSERT_SAMPLES, _INSERT_STATUS, _scores_text, inference_row, int16_blob

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
    "CREATE TABLE IF NOT EXISTS edgeloop_schema (version INTEGER NOT NULL)",
]


def _pg(sql: str) -> str:
    """The SQLite statement in PostgreSQL's spelling: %s placeholders, "window" quoted."""
    return sql.replace("?", "%s").replace(" window)", ' "window")').replace(", window,", ', "window",')


class PgStore:
    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise StoreError("--db postgresql://... needs psycopg: pip install 'psycopg[binary]'") from None
        self._psycopg = psycopg
        self.path = url.split("@")[-1]  # for messages: never the password
        try:
            self._db = psycopg.connect(url, autocommit=False)
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(7244051)")  # one migrator at a time
                for sql in _SCHEMA:
                    self._db.execute(sql)
                row = self._db.execute("SELECT max(version) FROM edgeloop_schema").fetchone()
                if row[0] is None:
                    self._db.execute("INSERT INTO edgeloop_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
                elif row[0] > SCHEMA_VERSION:
                    raise StoreError(f"{self.path} holds a log of a newer edgeloop (schema {row[0]}); upgrade edgeloop")
        except psycopg.Error as e:
            raise StoreError(f"cannot use the database {self.path}: {e}".strip()) from None
        self.session_id: int | None = None
        self._session: dict | None = None

    def _run(self, sql: str, row: tuple = ()):
        try:
            return self._db.execute(_pg(sql), row)
        except self._psycopg.Error as e:
            self._rollback()
            raise StoreError(f"the database {self.path} failed: {e}".strip()) from None

    def _rollback(self) -> None:
        try:
            self._db.rollback()
        except self._psycopg.Error:
            pass

    # -- what a collector writes --------------------------------------------------
    def claim_message(self, device_id: str, gateway_id: str, sequence: int, kind: str, frame_seq: int) -> bool:
        cur = self._run("INSERT INTO fleet_messages (device_id, gateway_id, sequence, kind, frame_seq, received)"
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
        self._run(_INSERT_INFERENCE, inference_row(self.session_id, self._session, f, seq, device_ms, host_time))

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

    # -- transactions -------------------------------------------------------------------
    def flush(self) -> None:
        try:
            self._db.commit()
        except self._psycopg.Error as e:
            self._rollback()
            raise StoreError(f"the database {self.path} failed to commit: {e}".strip()) from None

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is None:
            return
        try:
            self.flush()
        finally:
            self._db = None
            db.close()

    def __enter__(self) -> "PgStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
