"""The inference log: migrations, durability across a killed writer, full disk, read-only path."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edgeloop.errors import StoreError
from edgeloop.log.store import SCHEMA_VERSION, Store
from tests.tools.paths import REPO
from tests.tools.readonly import read_only

ROOT = REPO
HELLO = dict(rate_hz=100, channels=3, window=4, hop=2, mode=2, scale=0.001, device_id="d1", board="rp2040",
             firmware="fw", model_hash="abc123", sensor="accel", units="g", classes=["idle", "wave"])


def inference(i, window=True):
    return dict(window_index=i, latency_us=100 + i, top=i % 2, scores=[65535 - 1000 * (i % 30), 1000 * (i % 30)],
                model_hash="abc123", window=list(range(i, i + 12)) if window else None, window_channels=3)


def test_import_has_no_side_effects(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import edgeloop.log.store, os; print(sorted(os.listdir('.')))"],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_migrations_are_numbered_and_idempotent(tmp_path):
    db = tmp_path / "log.sqlite"
    with Store(db) as s:
        assert s.schema_version == SCHEMA_VERSION
        s.begin_session(HELLO)
        s.add_inference(inference(0), 1, 10)
    with Store(db) as s:  # reopening migrates nothing and keeps the rows
        assert s.schema_version == SCHEMA_VERSION
        assert s.count("inferences") == 1
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    row = raw.execute("SELECT device_id, board, firmware, model_hash, top_class, confidence, window_channels,"
                      " length(window) FROM inferences").fetchone()
    assert row == ("d1", "rp2040", "fw", "abc123", "idle", 1.0, 3, 24)


def test_batches_commit_by_count_and_time(tmp_path):
    db = tmp_path / "log.sqlite"
    s = Store(db, batch_rows=10, batch_seconds=3600)
    s.begin_session(HELLO)
    other = sqlite3.connect(db)
    for i in range(9):
        s.add_inference(inference(i), i, i)
    assert other.execute("SELECT count(*) FROM inferences").fetchone()[0] == 0
    s.add_inference(inference(9), 9, 9)
    assert other.execute("SELECT count(*) FROM inferences").fetchone()[0] == 10
    s2 = Store(tmp_path / "t.sqlite", batch_rows=10**6, batch_seconds=0.05)
    s2.add_inference(inference(0), 0, 0)
    time.sleep(0.06)
    s2.add_inference(inference(1), 1, 1)  # older than batch_seconds: committed now
    assert sqlite3.connect(tmp_path / "t.sqlite").execute("SELECT count(*) FROM inferences").fetchone()[0] == 2
    s.close()
    s2.close()


WRITER = textwrap.dedent("""
    import sys, time
    from edgeloop.log.store import Store
    s = Store(sys.argv[1], batch_rows=7, batch_seconds=0.02)
    s.begin_session(dict(rate_hz=1, channels=1, window=1, hop=1, mode=2, scale=1.0, device_id='d', board='b',
                         firmware='f', model_hash='m', sensor='s', units='u', classes=['a', 'b']))
    i = 0
    while True:
        s.add_inference(dict(window_index=i, latency_us=i, top=0, scores=[1, 2], model_hash='m',
                             window=[i] * 30, window_channels=1), i & 0xFFFF, i)
        if s.committed['inferences'] != getattr(s, '_said', -1):
            s._said = s.committed['inferences']
            print(s._said, flush=True)
        i += 1
""")


def test_killed_writer_loses_nothing_committed(tmp_path):
    db = tmp_path / "log.sqlite"
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    committed = 0
    deadline = time.monotonic() + 30
    while committed < 3000 and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        committed = int(line)
    os.kill(p.pid, signal.SIGKILL)  # mid-stream, no chance to flush or close
    p.wait()
    assert committed >= 3000, "writer did not get going"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n, lo, hi = con.execute("SELECT count(*), min(window_index), max(window_index) FROM inferences").fetchone()
    assert n >= committed  # everything the writer had seen committed is there...
    assert (lo, hi) == (0, n - 1)  # ...as a gap-free prefix


def test_read_only_location_is_one_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    with Store(ro / "log.sqlite") as s:
        s.begin_session(HELLO)
        s.add_inference(inference(0), 0, 0)
    with read_only(ro):
        s = None
        with pytest.raises(StoreError) as e:
            try:
                s = Store(ro / "log.sqlite")
                s.add_inference(inference(1), 1, 1)
                s.flush()
            finally:
                if s is not None:
                    s._db.close()
        assert str(e.value).startswith("cannot write the log") and "--db" in str(e.value)
        with pytest.raises(StoreError, match="cannot write the log"):
            Store(ro / "new.sqlite")
    with Store(ro / "log.sqlite", readonly=True) as s:  # what was logged is still there
        assert s.count("inferences") == 1


def test_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope" / "log.sqlite")


def test_not_a_database(tmp_path):
    p = tmp_path / "x.sqlite"
    p.write_bytes(b"this is a text file, not sqlite" * 100)
    with pytest.raises(StoreError, match="not an edgeloop log"):
        Store(p)


FULL = textwrap.dedent("""
    import resource, signal, sys
    from edgeloop.log.store import Store
    from edgeloop.errors import StoreError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk is an error, not a signal
    s = Store(sys.argv[1], batch_rows=50)
    s.begin_session(dict(rate_hz=1, channels=1, window=1, hop=1, mode=2, scale=1.0, device_id='d', board='b',
                         firmware='f', model_hash='m', sensor='s', units='u', classes=['a', 'b']))
    s.flush()
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        i = 0
        while True:
            s.add_inference(dict(window_index=i, latency_us=i, top=0, scores=[1, 2], model_hash='m',
                                 window=[i] * 200, window_channels=1), i & 0xFFFF, i)
            i += 1
    except StoreError as e:
        print(s.committed['inferences'])
        print(e)
""")


def test_full_disk_is_one_clear_error_and_keeps_what_was_committed(tmp_path):
    db = tmp_path / "log.sqlite"
    out = subprocess.run([sys.executable, "-c", FULL, str(db)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2, out.stdout + out.stderr
    committed, message = int(lines[0]), lines[1]
    assert "disk is full" in message and "kept" in message
    assert committed > 50
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n, hi = con.execute("SELECT count(*), max(window_index) FROM inferences").fetchone()
    assert n >= committed and hi == n - 1


DETECTION = dict(class_index=1, score=230 * 257, time_ms=1530, window_index=77, model_hash="abc123")


def test_a_version_1_log_gains_the_detections_table_and_keeps_its_rows(tmp_path):
    """A log written before migration 2 (built here from the version 1 schema by hand) upgrades on open."""
    from edgeloop.log.store import MIGRATIONS

    db = tmp_path / "old.sqlite"
    raw = sqlite3.connect(db)
    for sql in dict(MIGRATIONS)[1]:
        raw.execute(sql)
    raw.execute("INSERT INTO inferences (host_time, window_index, top) VALUES (1.0, 5, 1)")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    with Store(db) as s:
        assert s.schema_version == SCHEMA_VERSION >= 2
        assert s.count("inferences") == 1 and s.count("detections") == 0
        s.begin_session(HELLO)
        s.add_detection(DETECTION, 9, 4000, host_time=2.0)
        s.add_detection(dict(DETECTION, class_index=7, window_index=None, model_hash=""), 10, 4100)
    row = sqlite3.connect(db).execute(
        "SELECT device_id, board, model_hash, seq, device_ms, host_time, time_ms, window_index, class_index,"
        " class_name, score FROM detections ORDER BY id").fetchall()
    assert row[0] == ("d1", "rp2040", "abc123", 9, 4000, 2.0, 1530, 77, 1, "wave", round(230 / 255, 6))
    # no window index stays NULL; an index past the class list keeps the number; the hash falls back to hello's
    assert row[1][7:10] == (None, 7, "7") and row[1][2] == "abc123"


def test_detections_are_committed_at_once(tmp_path):
    db = tmp_path / "log.sqlite"
    s = Store(db, batch_rows=1000, batch_seconds=3600)
    s.begin_session(HELLO)
    for i in range(3):
        s.add_inference(inference(i), i, i)
    s.add_detection(DETECTION, 3, 10)  # no flush: a crash now loses neither it nor the rows before it
    other = sqlite3.connect(db)
    assert other.execute("SELECT count(*) FROM detections").fetchone()[0] == 1
    assert other.execute("SELECT count(*) FROM inferences").fetchone()[0] == 3
    assert sqlite3.connect(db).execute("SELECT count(*) FROM detections").fetchone()[0] == 1
    assert s.committed["detections"] == 1
    s.close()
