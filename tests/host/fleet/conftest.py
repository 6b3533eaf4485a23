from __future__ import annotations

import pytest

from tests.tools.mosquitto import Mosquitto


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def fleet(tmp_path):
    """A fleet's CA, broker certificate and (empty) registry (edgeloop.fleet.credentials)."""
    from edgeloop.fleet.credentials import Fleet

    f = Fleet(tmp_path / "fleet")
    f.init(["127.0.0.1", "localhost"])
    return f


@pytest.fixture
def secure_broker(tmp_path, fleet):
    """Mosquitto with TLS only, the fleet's password file, ACL and CRL (reload() after add/revoke)."""
    b = Mosquitto(tmp_path / "broker", secure=fleet).start()
    yield b
    b.stop()


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own on a free localhost port (tests that use it skip without psycopg)."""
    from tests.tools.postgres import Postgres

    pg = Postgres().start()
    yield pg
    pg.stop()
