"""The PostgreSQL roles of a fleet's log (docs/fleet.md, Security): each program gets only the
rights its job needs, so a stolen collector password cannot erase the log and an analyst's
cannot forge field data that later trains a model.

- `edgeloop_collector`: reads and inserts into the log's tables (and uses their id sequences);
  no UPDATE, DELETE, TRUNCATE, DROP or CREATE. The tables must exist first: this module creates
  them as the administrator (the log's own migrations), then grants.
- `edgeloop_reader` (export, drift, retrain, label): reads every table; writes `labels` only
  (insert and update: `edgeloop label` sets and replaces labels), nothing else.

Passwords are made here and stored as a SCRAM-SHA-256 verifier computed on this side (libpq's
PQencryptPasswordConn through psycopg), so the password itself never reaches the server or its
statement log; it is written to a 0600 file only. Running it again rotates both passwords.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from edgeloop.atomic import write_secret_atomic
from edgeloop.errors import StoreError

from .pgstore import PgStore, shown
from .store import _tables_of, SCHEMA_VERSION

COLLECTOR = "edgeloop_collector"
READER = "edgeloop_reader"
LABEL_TABLES = ("labels",)


def log_tables() -> list[str]:
    return sorted(_tables_of(SCHEMA_VERSION) | {"edgeloop_schema"})


def statements(collector: str = COLLECTOR, reader: str = READER) -> list[str]:
    """The GRANTs, as SQL a DBA can read or run by hand (after CREATE ROLE ... LOGIN)."""
    for role in (collector, reader):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
            raise StoreError(f"role name {role!r}: lower-case letters, digits and _ only")
    tables = ", ".join(log_tables())
    writes = ", ".join(t for t in log_tables() if t != "edgeloop_schema" and t not in LABEL_TABLES)
    # No one else creates in the log's schema (PostgreSQL 15's default, made explicit for older
    # servers): a role that may CREATE could shadow a log table with its own.
    out = ["REVOKE CREATE ON SCHEMA public FROM PUBLIC"]
    for role in (collector, reader):
        out += [f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
                f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
                f"GRANT USAGE ON SCHEMA public TO {role}",
                f"GRANT SELECT ON {tables} TO {role}"]
    out += [f"GRANT INSERT ON {writes} TO {collector}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {collector}",
            f"GRANT INSERT, UPDATE ON {', '.join(LABEL_TABLES)} TO {reader}"]
    return out


def create_roles(admin_url: str, out_dir: Path, *, collector: str = COLLECTOR, reader: str = READER) -> dict:
    """Create (or update) both roles on the log `admin_url` points at, as that URL's user; their
    passwords go to out_dir/<role>.password. Returns {role: password file}."""
    import psycopg
    from psycopg import sql

    PgStore(admin_url).close()  # the log's tables exist, at this edgeloop's schema
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    try:
        with psycopg.connect(admin_url, autocommit=False, connect_timeout=10) as db:
            with db.transaction():
                for role in (collector, reader):
                    password = secrets.token_urlsafe(24)
                    verifier = db.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
                    exists = db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                    verb = "ALTER" if exists else "CREATE"
                    db.execute(sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                        sql.SQL(verb), sql.Identifier(role), sql.Literal(verifier)))
                    files[role] = (out_dir / f"{role}.password", password)
                for statement in statements(collector, reader):
                    db.execute(statement)
    except psycopg.Error as e:
        raise StoreError(f"cannot create the roles on {shown(admin_url)}: {str(e).strip().splitlines()[0]}; "
                         "--db must name a user that may create roles and owns the log's tables") from None
    for role, (path, password) in files.items():
        write_secret_atomic(path, (password + "\n").encode())
    return {role: path for role, (path, _pw) in files.items()}
