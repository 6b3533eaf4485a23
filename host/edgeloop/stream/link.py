"""A board streaming frames over its REPL port, started and stopped through the raw REPL.

Deploy and stream share one cable: the link enters the raw REPL through
`edgeloop.link.device.Device` (the only mpremote user), checks the firmware is
there, runs the app's entry point without following it, and then reads the
port directly (on CircuitPython the usb_cdc data port: frames and commands go there, the console
stays the raw REPL's, where the end of the run shows). Closing sends CMD_STREAM_STOP (then Ctrl-C if the app does not
return), so the board is left at its REPL, ready for `edgeloop deploy`; the
frames the board sent until it stopped are returned, not dropped (a kept window
the board called sent must reach the log).
"""

from __future__ import annotations

import re
import time

from edgeloop_fw import protocol as P

from edgeloop.link.device import BoardException, Device
from ..errors import DeviceError, StreamError


class LinkLost(Exception):
    """The port went away or stopped answering (internal; the monitor reconnects)."""


class AppFailed(StreamError):
    """The app on the board raised (at start, or later): the board's own error line and what to do."""


# The raw REPL ends a run that raised with "\x04<traceback>\x04>": found in the bytes after the frames.
# Out of memory, MicroPython raises its preallocated MemoryError, which carries no traceback:
# then the exception's line comes alone ("\x04MemoryError: \r\n\x04>").
_TRACEBACK = re.compile(rb"\x04((?:Traceback \(most recent call last\):|MemoryError:)[^\x04]*)\x04>")
_ADVICE = (
    ("SensorError", "the sensor /edgeloop.json names cannot be read: check its wiring and the board profile's "
                    "part and pins, or choose another with `edgeloop deploy --model DIR --sensor NAME` "
                    "(a virtual board: --sensor replay, with a take in /replay.bin)"),
    ("MemoryError", "the app and its model do not fit the board's free heap: deploy a smaller model "
                    "(`edgeloop deploy --model DIR` checks the fit)"),
    ("OSError", "a file /edgeloop.json names is missing on the board: deploy the model folder again with "
                "`edgeloop deploy --model DIR`"),
)


def board_error(tail: bytes) -> str | None:
    """The last line of a traceback the raw REPL printed at the end of `tail`, or None."""
    m = _TRACEBACK.search(tail)
    if m is None:
        return None
    lines = [ln.strip() for ln in m.group(1).decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "an exception without a message"


def app_failed(port: str, line: str, started: bool) -> AppFailed:
    advice = next((a for name, a in _ADVICE if line.startswith(name)),
                  f"redeploy with `edgeloop deploy --port {port} --model DIR`, or look at the board's REPL "
                  f"with `mpremote connect {port} repl`")
    when = "stopped" if started else "did not start"
    return AppFailed(f"the edgeloop app on {port} {when}: {line}; {advice}")


# The app's modules for /edgeloop.json, named by the board's own edgeloop_fw.autostart (which says
# why they are imported one execution at a time before the app starts).
_MODULES = "import edgeloop_fw.autostart as _a\nprint(' '.join(_a.modules(_a.config())))\n_a.forget()\ndel _a"


def preload(dev: Device, timeout: float) -> None:
    """Import the modules the board's config needs, one execution each (see edgeloop_fw.autostart)."""
    from edgeloop_fw.autostart import KERNEL

    for module in dev.exec(_MODULES, timeout=timeout).decode("utf-8", "replace").split():
        if module.startswith(KERNEL):  # a model's kernel, at the level the interpreter picks
            name = module[len(KERNEL):]
            dev.exec(f"__import__('edgeloop_fw.runtime.interpreter').runtime.interpreter.kernel({name!r})",
                     timeout=timeout)
        else:
            dev.exec(f"import {module}", timeout=timeout)


def open_data_channel(dev: Device, port: str, baudrate: int):
    """The CircuitPython board's usb_cdc data port, opened; None where frames share the console.

    CircuitPython streams on usb_cdc.data: its console's text stdout would turn every \\n of a
    frame into \\r\\n, so a board whose boot.py has not enabled the channel is refused."""
    from edgeloop.deploy.circuitpy import CHANNEL_CODE
    from edgeloop.link.discover import data_port

    where = dev.exec(CHANNEL_CODE).decode("utf-8", "replace").strip()
    if where == "console":
        return None
    if where != "on":
        raise StreamError(f"the CircuitPython board on {port} has its usb_cdc data channel off, and its console "
                          f"would corrupt the frames (\\n becomes \\r\\n); run `edgeloop deploy --port {port}`: "
                          "it enables the channel in boot.py and resets the board")
    found = data_port(port)
    if found is None:
        raise StreamError(f"the CircuitPython board on {port} has its usb_cdc data channel on, but no second "
                          "serial port with its USB serial number is there; replug the board, then check "
                          "`edgeloop devices`")
    import serial

    try:
        return serial.Serial(found, baudrate=baudrate, timeout=0.05, exclusive=True)
    except Exception as e:
        raise DeviceError(f"cannot open {port}'s data channel {found}: {e}") from None


def entry_code(flags: int = P.STREAM_DEFAULT, mode: int = P.MODE_INFER) -> str:
    return f"import edgeloop_fw.app\nedgeloop_fw.app.run(flags={int(flags)}, mode={int(mode)})"


class BoardLink:
    """Open with `open()`; then `read()` returns raw bytes for a FrameReader."""

    def __init__(self, port: str, *, flags: int = P.STREAM_DEFAULT, mode: int = P.MODE_INFER,
                 baudrate: int = 115200, timeout: float = 5.0):
        self.port = port
        self.flags = flags
        self.mode = mode
        self.baudrate = baudrate
        self.timeout = timeout
        self._dev: Device | None = None
        self._serial = None
        self._cmd_seq = 0
        self._ended = False
        self._tail = b""  # the last bytes read, where the raw REPL's end-of-run shows up
        self._data = None  # CircuitPython: the usb_cdc data port the frames come on (the console stays the REPL's)
        self.data_port: str | None = None
        self.started = False  # set by the session once a frame came: a later traceback is a crash, not a failed start

    def open(self) -> None:
        """Start streaming; DeviceError/StreamError say why a board cannot stream."""
        # Soft-reset in the raw REPL (main.py does not run): whatever the last command left in the
        # REPL's globals (deploy keeps its receiver there on purpose) goes, so the app gets the heap.
        dev = Device(self.port, baudrate=self.baudrate, timeout=self.timeout, soft_reset=True)
        try:
            try:
                preload(dev, 12 * self.timeout)
            except BoardException as e:
                if "ImportError" in e.traceback or "no module named" in e.traceback.lower():
                    raise StreamError(
                        f"the board at {self.port} does not have the edgeloop firmware "
                        f"({e.traceback.strip().splitlines()[-1]}); install it with "
                        f"`edgeloop deploy --port {self.port}`") from None
                raise StreamError(f"the edgeloop firmware on {self.port} fails to load: {e}; "
                                  f"redeploy it with `edgeloop deploy --port {self.port}`") from None
            self._data = open_data_channel(dev, self.port, self.baudrate)
            if self._data is not None:
                self.data_port = self._data.port
                self._data.reset_input_buffer()
            t = dev.transport
            try:
                t.exec_raw_no_follow(entry_code(self.flags, self.mode))
            except Exception as e:
                raise DeviceError(f"{self.port} did not accept the stream command ({e})") from None
            self._serial = t.serial
            self._serial.timeout = 0.05
        except BaseException:
            if self._data is not None:
                self._data.close()
                self._data = None
            dev.close()
            raise
        self._dev = dev

    @property
    def is_open(self) -> bool:
        return self._dev is not None

    def read(self) -> bytes:
        """What has arrived (waits at most ~50 ms); LinkLost when the port is gone."""
        s = self._serial
        if s is None:
            raise LinkLost(f"{self.port} is not open")
        console = b""
        try:
            if self._data is not None:  # frames on the data port; the console only shows how the run ends
                n = self._data.in_waiting
                data = self._data.read(n if n else 1)
                console = s.read(s.in_waiting) if s.in_waiting else b""
            else:
                n = s.in_waiting
                data = console = s.read(n if n else 1)
        except Exception as e:  # pyserial's SerialException is an OSError on POSIX
            raise LinkLost(f"{self.port}: {e}") from None
        if console:
            self._tail = (self._tail + console)[-4096:]
            if b"\x04>" in self._tail[-len(console) - 2:]:
                line = board_error(self._tail)
                if line is not None:
                    self._ended = True  # back at the raw REPL: nothing to stop
                    raise app_failed(self.port, line, self.started)
        return data

    def send(self, cmd: int, fields: dict | None = None) -> None:
        self._cmd_seq = (self._cmd_seq + 1) & 0xFFFF
        try:
            (self._data or self._serial).write(P.cmd_encode(cmd, self._cmd_seq, fields))
        except Exception as e:
            raise LinkLost(f"{self.port}: {e}") from None

    def close(self, *, stop: bool = True, grace: float = 1.0) -> bytes:
        """Stop the app (command, then Ctrl-C) and leave the board at its REPL, soft-reset; returns
        the bytes that came until the app returned (frames still in flight, for the caller's reader).

        `grace` is how long the app may take to see the stop (it reads commands once per block,
        and a busy machine stretches a block): only then is it interrupted, mid-frame perhaps.

        The reset frees what the app imported and allocated (half the heap of a
        small board), which the REPL would otherwise keep alive, so the next
        command (`edgeloop deploy` after `record`) has the whole heap. It happens
        in the raw REPL, where MicroPython does not run main.py.
        """
        dev, s, data = self._dev, self._serial, self._data
        self._dev = self._serial = self._data = None
        drained = bytearray()
        if dev is None:
            return bytes(drained)
        try:
            if stop and s is not None:
                try:
                    if not self._ended:
                        (data or s).write(P.cmd_encode(P.CMD_STREAM_STOP, 0))
                        if not _wait_for(s, _run_ended, grace, drained, data):
                            s.write(b"\x03")
                            _wait_for(s, _run_ended, grace, drained, data)
                    s.write(b"\x04")  # at the raw REPL's prompt: soft reset
                    _wait_for(s, lambda tail: b"raw REPL; CTRL-B to exit\r\n>" in tail, 10 * grace)
                except Exception:
                    pass
        finally:
            if data is not None:
                data.close()
            dev.close()
        return bytes(drained)


def _run_ended(tail: bytes) -> bool:
    """The raw REPL's end of a run: "\x04" + the run's stderr + "\x04>". Not "\x04>" alone, which
    one frame in a few hundred holds by chance: the run has ended when stderr was empty or holds
    the traceback (Ctrl-C's KeyboardInterrupt, an error)."""
    return b"\x04\x04>" in tail or _TRACEBACK.search(tail) is not None


def _wait_for(s, ended, seconds: float, keep: bytearray | None = None, data=None) -> bool:
    """Read until `ended(last bytes)`; what came is added to `keep`. With `data` (CircuitPython's
    data port) the frames still in flight come from there, and the end from the console `s`."""
    end = time.monotonic() + seconds
    tail = b""
    while time.monotonic() < end:
        if data is not None:
            frames = data.read(data.in_waiting) if data.in_waiting else b""
            if keep is not None:
                keep += frames
            chunk = s.read(s.in_waiting) if s.in_waiting else (b"" if frames else s.read(1))
        else:
            chunk = s.read(s.in_waiting or 1)
            if chunk and keep is not None:
                keep += chunk
        if chunk:
            tail = (tail + chunk)[-4096:]
            if ended(tail):
                if data is not None and keep is not None:
                    keep += data.read(data.in_waiting) if data.in_waiting else b""
                return True
    return False
