"""Logs the CLI must not write to, and logs it must read without writing (issue 14).

`edgeloop monitor --db` opens its log before it talks to the board, so
`--port /dev/null` reaches the log's checks without a board; `edgeloop
export --db` needs none. Each refusal is one line, exit non-zero, and the
file is left byte for byte as it was.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.log.store import MIGRATIONS, SCHEMA_VERSION, Store
from tests.tools.readonly import read_only

HELLO = dict(rate_hz=100, channels=3, window=4, hop=2, mode=2, scale=0.001, device_id="d1", board="rp2040",
             firmware="fw", model_hash="abc123", sensor="accel", units="g", classes=["idle", "wave"])


def write_log(path: Path, n: int = 5) -> None:
    with Store(path) as s:
        s.begin_session(HELLO)
        for i in range(n):
            s.add_inference(dict(window_index=i, latency_us=100, top=i % 2, scores=[60000, 5535],
                                 model_hash="abc123", window=list(range(i, i + 12)), window_channels=3), i, i)


def sqlite_file(path: Path, *sql: str) -> Path:
    """An SQLite file made by someone else: `sql` run and committed."""
    con = sqlite3.connect(path)
    for statement in sql:
        con.execute(statement)
    con.commit()
    con.close()
    return path


def one_line_error(result) -> str:
    out = result.output.strip()
    assert result.exit_code != 0, out
    assert "Traceback" not in out and len(out.splitlines()) == 1, out
    return out


def monitor(db) -> str:
    return one_line_error(CliRunner().invoke(cli, ["monitor", "--port", "/dev/null", "--db", str(db),
                                                   "--seconds", "1"]))


def refused_untouched(db: Path) -> str:
    """monitor's one-line refusal of `db`, which must be byte for byte as before."""
    before = db.read_bytes()
    out = monitor(db)
    assert db.read_bytes() == before, out
    return out


def export(db, out) -> object:
    return CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "npz", "--out", str(out)])


def test_a_log_of_a_newer_edgeloop_is_refused_not_written(tmp_path):
    db = tmp_path / "log.sqlite"
    write_log(db)
    out = refused_untouched(sqlite_file(db, "PRAGMA user_version = 99"))
    assert "newer edgeloop" in out and "schema 99" in out and "upgrade edgeloop" in out


def test_another_programs_sqlite_file_is_refused_not_written(tmp_path):
    db = sqlite_file(tmp_path / "contacts.sqlite", "CREATE TABLE contacts (name TEXT, phone TEXT)",
                     "INSERT INTO contacts VALUES ('ada', '1')")
    out = refused_untouched(db)
    assert "not an edgeloop log" in out and "contacts" in out and "--db" in out


def test_another_programs_versioned_sqlite_file_is_refused_by_export(tmp_path):
    db = sqlite_file(tmp_path / "other.sqlite", "CREATE TABLE sessions (id INTEGER PRIMARY KEY, who TEXT)",
                     "PRAGMA user_version = 1")
    out = one_line_error(export(db, tmp_path / "out"))
    assert "not an edgeloop log" in out and "inferences" in out, out
    assert not (tmp_path / "out").exists()


def test_dev_null_as_the_log_is_refused(tmp_path):
    out = monitor("/dev/null")
    assert "/dev/null is not a regular file" in out and "--db" in out
    out = one_line_error(export("/dev/null", tmp_path / "out"))
    assert "/dev/null is not a regular file" in out


def _exports_all_windows(db: Path, out: Path) -> None:
    r = export(db, out)
    assert r.exit_code == 0, r.output
    assert np.load(out / "windows.npz")["x"].shape == (5, 4, 3)


def test_export_reads_a_log_in_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    write_log(ro / "log.sqlite")
    with read_only(ro):
        _exports_all_windows(ro / "log.sqlite", tmp_path / "out")


def test_export_reads_a_0444_log_in_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    write_log(ro / "log.sqlite")
    os.chmod(ro / "log.sqlite", 0o444)
    with read_only(ro):
        _exports_all_windows(ro / "log.sqlite", tmp_path / "out")


def test_export_reads_a_0444_log_and_leaves_it_as_it_was(tmp_path):
    db = tmp_path / "log.sqlite"
    write_log(db)
    os.chmod(db, 0o444)
    before = db.read_bytes()
    _exports_all_windows(db, tmp_path / "out")
    assert db.read_bytes() == before


def test_a_log_that_is_still_being_written_is_read_with_its_wal(tmp_path):
    """The read-only path keeps reading the -wal of a live log (immutable would miss those rows)."""
    db = tmp_path / "log.sqlite"
    writer = Store(db)
    try:
        writer.begin_session(HELLO)
        for i in range(5):
            writer.add_inference(dict(window_index=i, latency_us=100, top=0, scores=[60000, 5535],
                                      model_hash="abc123", window=list(range(12)), window_channels=3), i, i)
        writer.flush()
        assert Path(f"{db}-wal").stat().st_size > 0
        _exports_all_windows(db, tmp_path / "out")
    finally:
        writer.close()


@pytest.mark.parametrize("version", [0, 1])
def test_own_logs_of_every_schema_still_open(tmp_path, version):
    """The checks refuse foreign files only: an empty file and an older log are upgraded in place."""
    db = sqlite_file(tmp_path / "log.sqlite", *[sql for v, statements in MIGRATIONS if v <= version
                                                for sql in statements], f"PRAGMA user_version = {version}")
    with Store(db) as s:
        assert s.schema_version == SCHEMA_VERSION
