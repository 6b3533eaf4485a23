"""A real Mosquitto broker for one test: its own config, persistence folder and localhost port.

Started and stopped by the test (SIGTERM: it saves its queue; SIGKILL: a crash, which keeps only
what it saved before; `extra` config lines such as autosave_interval), restarted on the same port with the same persistence file. Debian installs the binary in /usr/sbin, which is not
on every user's PATH, so both are searched.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

SEARCH = [os.environ.get("EDGELOOP_MOSQUITTO", ""), shutil.which("mosquitto") or "", "/usr/sbin/mosquitto"]


def mosquitto_binary() -> str | None:
    return next((p for p in SEARCH if p and os.access(p, os.X_OK)), None)


def need_mosquitto() -> str:
    path = mosquitto_binary()
    if path is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto; `make setup` does it)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    def __init__(self, folder: Path, port: int | None = None, extra: str = "", secure=None):
        """`secure`: an edgeloop.fleet.credentials.Fleet; the broker then takes only TLS clients with
        that fleet's credentials (its own mosquitto.conf listeners: `port` for user name + password,
        `cert_port` for client certificates) and checks its ACL and CRL."""
        self.binary = need_mosquitto()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.cert_port = None
        listen = f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        if secure is not None:
            self.cert_port = free_port()
            self.url = f"mqtts://127.0.0.1:{self.port}"
            self.cert_url = f"mqtts://127.0.0.1:{self.cert_port}"
            listen = secure.mosquitto_conf(self.port, self.cert_port, bind="127.0.0.1")
        self.conf = self.folder / "mosquitto.conf"
        # max_queued_messages 0: no limit on what waits for a persistent client that is away
        # (the default, 1000, would drop the rest: see docs/fleet.md).
        # user: Mosquitto started as root switches to the `mosquitto` user, which cannot write this
        # test's folder: its persistence file (the queued messages, the collector's subscription)
        # would silently not be saved. Naming the current user keeps it (ignored when not root).
        self.conf.write_text(
            f"user {getpass.getuser()}\n"
            + listen + "persistence true\n"
            f"persistence_location {self.folder}/\nmax_queued_messages 0\n"
            f"log_dest file {self.folder}/mosquitto.log\n" + extra)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Mosquitto":
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.folder / "mosquitto.log").read_text() if (self.folder / "mosquitto.log").exists() else ""
                raise RuntimeError(f"mosquitto exited {self.proc.returncode}: {log[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: Mosquitto reads its password and ACL files again (what `fleet revoke` changed)."""
        self.proc.send_signal(signal.SIGHUP)

    def restart(self) -> None:
        self.stop()
        self.start()
