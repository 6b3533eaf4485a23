"""`edgeloop fleet db-roles` on a real PostgreSQL server: the collector's role stores the fleet's
messages and can do nothing destructive; the reader's reads the log and writes labels only. Each
refusal is PostgreSQL's own (insufficient privilege), checked statement by statement, beside the
same statement succeeding for the administrator, so a refusal is not a broken statement."""

from __future__ import annotations

import os
import stat

import pytest

from edgeloop.log.pgstore import PgStore
from tests.tools.cli_result import invoke
from tests.tools.fleet_frames import fleet_messages, publish, wait_for
from tests.tools.fleet_running import DEADLINE, RunningCollector

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")


def as_role(url: str, role: str) -> str:
    return url.replace("postgresql://edgeloop@", f"postgresql://{role}@")


def refused(url: str, statement: str) -> bool:
    """True when PostgreSQL refuses `statement` for lack of privilege (rolled back either way)."""
    with psycopg.connect(url) as con:
        try:
            con.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
        finally:
            con.rollback()
    return False


def test_collector_and_reader_roles_have_only_what_their_jobs_need(broker, postgres, tmp_path):
    result = invoke("fleet", "db-roles", "--db", postgres.url, "--dir", tmp_path / "fleet")
    assert result.exit_code == 0, result.output
    for role in ("edgeloop_collector", "edgeloop_reader"):
        pw = tmp_path / "fleet" / "db" / f"{role}.password"
        assert stat.S_IMODE(os.stat(pw).st_mode) == 0o600
        assert pw.read_text().strip() not in result.output  # secrets are never printed
        with psycopg.connect(postgres.url) as con:  # a SCRAM verifier is stored, not the password
            stored = con.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()[0]
            assert stored.startswith("SCRAM-SHA-256$") and pw.read_text().strip() not in stored
    collector, reader = as_role(postgres.url, "edgeloop_collector"), as_role(postgres.url, "edgeloop_reader")

    # the collector, as its role, stores the fleet's messages
    msgs = fleet_messages("dev-a", 20)
    with RunningCollector(broker.url, collector) as run:
        publish(broker.url, msgs)
        wait_for(lambda: run.connected() and run.collector.stats.stored == len(msgs), DEADLINE, "every message stored")

    destructive = ["DELETE FROM inferences", "UPDATE inferences SET top = 0", "TRUNCATE inferences",
                   "DROP TABLE inferences", "DELETE FROM fleet_messages", "CREATE TABLE mine (x int)",
                   "INSERT INTO labels (inference_id, label, source, updated) VALUES (1, 'x', 'y', 0)"]
    for statement in destructive:
        assert refused(collector, statement), statement
    assert not refused(collector, "SELECT count(*) FROM inferences")

    insert_row = ("INSERT INTO inferences (session_id, device_id, host_time, top) "
                  "SELECT session_id, 'forged', 0, 0 FROM inferences LIMIT 1")
    for statement in [insert_row, "INSERT INTO fleet_messages VALUES ('d', 'g', 1, 'inference', 0, 0)",
                      "DELETE FROM inferences", "UPDATE inferences SET top = 0", "DROP TABLE labels",
                      "DELETE FROM labels", "CREATE TABLE mine (x int)"]:
        assert refused(reader, statement), statement
    assert not refused(reader, "INSERT INTO labels (inference_id, label, source, updated) "
                               "SELECT id, 'wave', 'test', 0 FROM inferences LIMIT 1")
    # the same statements are not broken: the administrator may run them
    assert not refused(postgres.url, insert_row)

    # export/drift/retrain open the log read-only, label opens it writable: both work as the reader
    with PgStore(reader, readonly=True) as store:
        assert store.schema_version >= 6
    PgStore(reader).close()
    with psycopg.connect(postgres.url) as con:
        assert con.execute("SELECT count(*) FROM inferences WHERE device_id = 'dev-a'").fetchone()[0] == 20


def test_db_roles_refuses_sqlite_in_one_line(tmp_path):
    from tests.tools.cli_result import one_line

    line = one_line(invoke("fleet", "db-roles", "--db", tmp_path / "x.sqlite", "--dir", tmp_path))
    assert "postgresql://" in line
