"""A PostgreSQL server for one test: initdb in a temporary folder, a free localhost port, its unix
socket in that folder. initdb refuses to run as root, so as root the server runs as `nobody` in a
folder under /tmp that `nobody` owns."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.tools.mosquitto import free_port


def _tool(name: str) -> str | None:
    import glob

    debian = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)  # the newest version first
    return shutil.which(name) or next((p for p in [f"/usr/local/bin/{name}"] + debian
                                       if os.access(p, os.X_OK)), None)


class Postgres:
    def __init__(self):
        self.initdb, self.pg_ctl = _tool("initdb"), _tool("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="edgeloop-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            if not shutil.which("runuser"):
                pytest.skip("as root, PostgreSQL needs runuser to run as nobody")
            os.chmod(self.folder, 0o755)
            shutil.chown(self.folder, "nobody")
            self.prefix = ["runuser", "-u", "nobody", "--"]
        self.port = free_port()
        self.data = self.folder / "data"
        self.url = f"postgresql://edgeloop@127.0.0.1:{self.port}/postgres"

    def _run(self, *args, timeout=120):
        subprocess.run(self.prefix + list(args), check=True, capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)

    def start(self) -> "Postgres":
        self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", "edgeloop", "--no-sync")
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "120", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
