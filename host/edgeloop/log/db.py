"""One way from a `--db` value to a log: a file path is the SQLite log (store.py), a
`postgresql://USER@HOST[:PORT]/DB` URL the PostgreSQL log (pgstore.py). Both answer the same
reading interface (store.LogBase), so `export`, `label`, `drift` and `retrain` read either
without knowing which; `shown` is the name to print or record (a URL without its password).
"""

from __future__ import annotations

from pathlib import Path

URL_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(db: str | Path) -> bool:
    return isinstance(db, str) and db.startswith(URL_SCHEMES)


def open_log(db: str | Path, *, readonly: bool = False):
    """The log at `db`, opened for reading only (nothing written, no migration) or for writing."""
    if is_postgres(db):
        from .pgstore import PgStore

        return PgStore(db, readonly=readonly)
    from .store import Store

    return Store(db, readonly=readonly)


def shown(db: str | Path) -> str:
    """`db` as messages and files name it: a path as given, a URL without password or options."""
    if is_postgres(db):
        from .pgstore import shown as url_shown

        return url_shown(db)
    return str(db)
