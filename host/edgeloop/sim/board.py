"""VirtualBoard: start, restart and stop one virtual board.

The pty is created here, not in Node, so that the port name is known before
Node starts and survives a restart of the interpreter; Node gets the master
(and the slave, which it holds open so a client closing the port never
leaves the master reading EIO). Clients must be handed the real /dev/pts/N:
mpremote treats only that prefix as a pty and is ten times slower through a
symlink.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import tty
import weakref
from pathlib import Path

from edgeloop.boards import profiles as boards
from ..errors import SimError, ToolMissing
from ..resources import node_project_dir
from . import registry, sensors

NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
_HERE = Path(__file__).resolve().parent


def _package_dir() -> Path:
    return node_project_dir() / "node_modules" / NPM_PACKAGE


def node_status() -> tuple[bool, str]:
    """(True, "") when a virtual board can start, else (False, what to do)."""
    if shutil.which("node") is None:
        return False, ("node is not installed; run `make setup` (it installs the nodejs Debian package), "
                       "or install Node 18+ yourself")
    if not (_package_dir() / "micropython.mjs").is_file():
        return False, (f"the npm package {NPM_PACKAGE} is not installed; run `make setup` "
                       f"(or `npm ci` in {node_project_dir()})")
    return True, ""


def _kill(proc: subprocess.Popen, fds: list[int]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class VirtualBoard:
    """A MicroPython board on a pseudo-terminal, shaped by a board profile.

    `flash_dir` holds the board's filesystem (a fresh temporary folder, removed
    on stop, when None). `watchdog` is how long a Ctrl-C may go unanswered
    before the stuck interpreter is replaced. `heap_bytes` overrides the
    profile's heap (the cap that makes over-allocation a MemoryError).
    `imu` / `mic` are recordings that feed the profile's IMU and microphone,
    emulated behind the board's `machine` module (edgeloop.sim.sensors;
    `imu_part` names another IMU part, `take` one take of a .parquet).
    """

    def __init__(self, board: str = "rp2040", flash_dir: str | os.PathLike | None = None, *,
                 watchdog: float = 2.0, heap_bytes: int | None = None, register: bool = True,
                 start_timeout: float = 30.0, imu=None, mic=None, imu_part: str | None = None,
                 take: str | None = None):
        self.profile = boards.load(board)
        ok, why = node_status()
        if not ok:
            raise ToolMissing(why)
        sensor_files = sensors.plan(self.profile, imu, mic, imu_part, take)  # checked before anything is made
        self.board = self.profile.name
        self._own_flash = flash_dir is None
        if flash_dir is None:
            self.flash_dir = Path(tempfile.mkdtemp(prefix=f"edgeloop-{self.board}-flash-"))
        else:
            self.flash_dir = Path(flash_dir).expanduser().resolve()
            if self.flash_dir.exists() and not self.flash_dir.is_dir():
                raise SimError(f"--flash {self.flash_dir} is a file; give a folder for the board's filesystem")
            self.flash_dir.mkdir(parents=True, exist_ok=True)
        if sensor_files:
            sensors.install(self.flash_dir, sensor_files)
        else:
            sensors.remove(self.flash_dir)
        self.heap_bytes = heap_bytes or self.profile.heap_bytes
        self.watchdog = watchdog
        self._register = register
        self._start_timeout = start_timeout
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._proc: subprocess.Popen | None = None
        self._finalizer = None

        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF or signal translation: binary-safe
        # The board's writes never block in the kernel: the worker keeps what the pty
        # cannot take, so it can tell the app there is no room (a USB port without POLLOUT).
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        try:
            self._spawn()
        except BaseException:
            self.stop()
            raise

    # -- lifetime -------------------------------------------------------------
    def _spawn(self) -> None:
        version = json.loads((_package_dir() / "package.json").read_text())["version"]
        args = [
            shutil.which("node"), str(_HERE / "bridge.mjs"),
            "--fd", str(self._master), "--hold", str(self._slave),
            "--board", self.board, "--title", self.profile.title, "--version", version,
            "--heap", str(self.heap_bytes), "--fs", str(self.profile.fs_bytes),
            "--flash", str(self.flash_dir), "--pkg", str(_package_dir()),
            "--watchdog", str(self.watchdog),
        ]
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(args, pass_fds=(self._master, self._slave), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
        self._finalizer = weakref.finalize(self, _kill, self._proc, [])
        threading.Thread(target=self._read_status, args=(self._proc,), daemon=True).start()
        self._wait_ready(1)
        # Node holds the pty from now on: if it dies, the port goes away as an
        # unplugged board's would, instead of going silent.
        for fd in (self._master, self._slave):
            os.close(fd)
        self._master = self._slave = None
        if self._register:
            registry.register(registry.RunningSim(self.port, self.board, str(self.flash_dir),
                                                  self._proc.pid, os.getpid()))

    def _read_status(self, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").strip())
                self._cond.notify_all()
        with self._cond:
            self._lines.append("EXIT")
            self._cond.notify_all()

    def _boots(self) -> int:
        return sum(1 for ln in self._lines if ln.startswith("READY"))

    def _wait_ready(self, n: int) -> None:
        deadline = time.monotonic() + self._start_timeout
        with self._cond:
            while self._boots() < n:
                errors = [ln for ln in self._lines if ln.startswith(("ERROR", "EXIT"))]
                left = deadline - time.monotonic()
                if errors or left <= 0:
                    self._log.seek(0)
                    tail = self._log.read()[-400:].decode("utf-8", "replace").strip().splitlines()
                    detail = (errors[-1] if errors else "no answer") + (f" ({tail[-1]})" if tail else "")
                    raise SimError(f"the virtual board did not start: {detail[:300]}")
                self._cond.wait(min(left, 0.5))

    @property
    def restarts(self) -> list[str]:
        """Why the interpreter was replaced so far ("watchdog", "crashed", "hard reset")."""
        with self._cond:
            return [ln.split(" ", 1)[1] for ln in self._lines if ln.startswith("RESTART ")]

    def restart(self) -> None:
        """Hard reset: a new interpreter on the same port, files kept, boot.py/main.py run."""
        if self._proc is None or self._proc.poll() is not None:
            raise SimError(f"the virtual board on {self.port} is not running")
        with self._cond:
            n = self._boots()
        self._proc.send_signal(signal.SIGUSR1)
        self._wait_ready(n + 1)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            registry.unregister(proc.pid)
        if self._finalizer is not None:
            self._finalizer()
        for name in ("_master", "_slave"):
            fd = getattr(self, name, None)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._own_flash:
            shutil.rmtree(self.flash_dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The Node process (kill it to make the board vanish)."""
        return self._proc.pid if self._proc else None

    def __enter__(self) -> "VirtualBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"VirtualBoard(board={self.board!r}, port={self.port!r}, flash_dir={str(self.flash_dir)!r})"
