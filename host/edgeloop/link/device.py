"""The one place that talks to a board's REPL, through mpremote's transport.

mpremote says its API may change, so nothing else in edgeloop imports it:
commands get a `Device`, and every transport failure leaves this module as a
DeviceError that says what happened (a board traceback keeps the board's own
last line; a vanished port says so).
"""

from __future__ import annotations

import ast
import contextlib
import errno
import io
import os
import time

from edgeloop.errors import DeviceBusy, DeviceError, DeviceNotFound, NotMicroPython


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else text.strip()


def _port_is_locked(port: str) -> bool:
    import serial

    try:
        serial.Serial(port, exclusive=True).close()
    except Exception as e:
        return "exclusively lock" in str(e) or getattr(e, "errno", None) in (errno.EBUSY, errno.EAGAIN)
    return False


@contextlib.contextmanager
def _deadline(ser, seconds: float):
    """Make reads fail after `seconds` in total.

    mpremote's read_until restarts its clock on every byte, so a device that
    chatters without ever showing a REPL prompt would keep it waiting forever.
    """
    read = ser.read
    end = time.monotonic() + seconds

    def bounded(size=1):
        if time.monotonic() > end:
            raise TimeoutError(f"no REPL prompt within {seconds:g} s")
        return read(size)

    ser.read = bounded
    try:
        yield
    finally:
        ser.read = read


class BoardException(DeviceError):
    """Code run on the board raised; `traceback` holds the board's full text."""

    def __init__(self, traceback: str):
        self.traceback = traceback
        super().__init__(f"the board raised: {_last_line(traceback)}")


class Device:
    """A MicroPython/CircuitPython board (or the virtual board) on a serial port.

    Use as a context manager; the raw REPL is entered once on open (without a
    soft reset, so a running app is interrupted but the board's state is kept
    unless `soft_reset=True`).
    """

    def __init__(self, port: str, *, baudrate: int = 115200, soft_reset: bool = False,
                 timeout: float = 10.0):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self.port = port
        self.timeout = timeout
        if not port.startswith(("socket://", "rfc2217://", "loop://")) and not os.path.exists(port):
            raise DeviceNotFound(f"no board at {port}: the port does not exist; "
                                 "run `edgeloop devices` to see the ports there are")
        try:
            self._t = SerialTransport(port, baudrate=baudrate, timeout=timeout)
        except TransportError as e:
            # mpremote hides pyserial's reason ("failed to access"); ask pyserial once more for it.
            if _port_is_locked(port):
                raise DeviceBusy(f"{port} is in use by another program (a serial monitor, mpremote, "
                                 "another edgeloop?); close it and try again") from None
            raise DeviceNotFound(f"cannot open {port}: {e}; run `edgeloop devices` to see the ports there are") from None
        except Exception as e:  # pyserial: SerialException (an OSError subclass on POSIX)
            text = str(e)
            if "exclusively lock" in text or getattr(e, "errno", None) in (errno.EBUSY, errno.EAGAIN):
                raise DeviceBusy(f"{port} is in use by another program (a serial monitor, mpremote, "
                                 "another edgeloop?); close it and try again") from None
            raise DeviceNotFound(f"cannot open {port}: {text}") from None
        try:
            # mpremote print()s what it got from a port that is not a REPL; keep stdout to one error line.
            with contextlib.redirect_stdout(io.StringIO()), _deadline(self._t.serial, timeout):
                self._t.enter_raw_repl(soft_reset=soft_reset, timeout_overall=timeout)
        except Exception as e:
            self.close()
            raise NotMicroPython(
                f"{port} does not answer like a MicroPython or CircuitPython REPL ({_last_line(str(e)) or e!r}); "
                "flash MicroPython with `edgeloop flash --board NAME`, or check the port") from None

    # -- lifetime -----------------------------------------------------------
    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        t = getattr(self, "_t", None)
        if t is None:
            return
        self._t = None
        try:
            if t.in_raw_repl:
                t.exit_raw_repl()
        except Exception:
            pass
        try:
            t.close()
        except Exception:
            pass

    # -- running code -------------------------------------------------------
    def exec(self, code: str | bytes, *, timeout: float | None = None, data_consumer=None) -> bytes:
        """Run code in the raw REPL and return what it printed.

        A board exception becomes BoardException; a port that vanishes or a
        board that stops answering becomes DeviceError.
        """
        from mpremote.transport import TransportError

        t = self._transport()
        try:
            t.exec_raw_no_follow(code)
            out, err = t.follow(self.timeout if timeout is None else timeout, data_consumer)
        except TransportError as e:
            raise DeviceError(f"{self.port} stopped answering ({e}); is the board still connected?") from None
        except OSError as e:
            raise DeviceError(f"{self.port} went away mid-command ({e.strerror or e}); "
                              "reconnect the board and try again") from None
        if err:
            raise BoardException(err.decode("utf-8", "replace"))
        return out

    def eval(self, expression: str, *, timeout: float | None = None):
        """Evaluate an expression on the board and return it as a Python value."""
        out = self.exec(f"print(repr({expression}))", timeout=timeout)
        text = out.decode("utf-8", "replace").strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise DeviceError(f"the board's answer to {expression!r} is not a Python literal: {text[:80]!r}") from None

    def soft_reset(self) -> None:
        """Soft-reset in the raw REPL (main.py does not run): the REPL's globals go, so the next
        execs get the whole heap (the virtual board collects garbage only between execs)."""
        from mpremote.transport import TransportError

        t = self._transport()
        try:
            with contextlib.redirect_stdout(io.StringIO()), _deadline(t.serial, self.timeout):
                t.enter_raw_repl(soft_reset=True, timeout_overall=self.timeout)
        except (TransportError, TimeoutError, OSError) as e:
            raise DeviceError(f"{self.port} did not come back from a soft reset ({e})") from None

    @property
    def transport(self):
        """The underlying mpremote transport, for code in this package that needs fs_* calls."""
        return self._transport()

    def _transport(self):
        if self._t is None:
            raise DeviceError(f"{self.port} is closed")
        return self._t
