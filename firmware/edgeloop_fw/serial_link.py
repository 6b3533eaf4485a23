"""The board's end of the USB serial: frames out without blocking forever, command bytes in.

Output never queues: a frame is written now or dropped and counted, so a
host that stops reading costs the board nothing but the count (memory stays
bounded whatever happens on the cable). Where the port can say whether the
USB endpoint has room (select.poll POLLOUT on MicroPython; on the virtual
board the bridge's `globalThis.edgeloopTxRoom()`, bytes it can take now), a
frame that would block is dropped instead of stalling the sampling loop.

Input is polled a byte at a time and never blocks. Where it comes from
depends on the port, detected once:
- MicroPython: sys.stdin (the REPL's USB CDC), polled with select.
- CircuitPython: usb_cdc.data when enabled (a second CDC port just for
  data), else the console read as bytes (usb_cdc.console, or sys.stdin's
  buffer), polled with supervisor.runtime.serial_bytes_available.
  Output on CircuitPython goes only to usb_cdc.data: Output() refuses the
  console (RuntimeError), whose text stdout would corrupt every frame.
- The virtual board (WebAssembly MicroPython, whose own stdin never returns
  data): the bridge's JavaScript function `globalThis.edgeloopReadByte()`,
  which returns the next host byte or -1.
"""

import sys

from .port import IMPLEMENTATION, WASM


class Output:
    def __init__(self, stream=None):
        self.poller = None
        self._room = None
        if stream is None:
            stream = _default_output()
            if WASM:
                try:
                    import js
                    self._room = js.globalThis.edgeloopTxRoom
                except (ImportError, AttributeError):
                    pass
        self.stream = stream
        self.frames = 0
        self.dropped = 0  # frames not sent (no room, or a short write)
        # stream.write(buf, off, n) writes part of a buffer without slicing it (a slice is a
        # heap object per frame). MicroPython's and CircuitPython's streams (usb_cdc, UART,
        # the console) take it, CPython's do not: asked of the stream itself, not the port's name.
        self._offset_write = _takes_offset(stream)
        if IMPLEMENTATION == "micropython" and not WASM:
            try:
                import select
                p = select.poll()
                p.register(stream, select.POLLOUT)
                self.poller = p
            except (ImportError, OSError, TypeError, ValueError):
                self.poller = None

    def write(self, buf, mv, n):
        """Send buf[0:n] (mv is a memoryview of buf) or drop it; True if sent."""
        if self.poller is not None:
            ready = False
            for _ in self.poller.ipoll(0):
                ready = True
            if not ready:
                self.dropped += 1
                return False
        elif self._room is not None and self._room() < n:
            self.dropped += 1
            return False
        try:
            if self._offset_write:
                w = self.stream.write(buf, 0, n)
            else:
                w = self.stream.write(mv[:n])
        except OSError:
            w = 0
        if w is not None and w < n:
            self.dropped += 1
            return False
        self.frames += 1
        return True


CONSOLE_REFUSED = "edgeloop streams on usb_cdc.data, which is off: "
CONSOLE_FIX = ("boot.py must call usb_cdc.enable(console=True, data=True) and the board be reset "
               "(edgeloop deploy does both)")


def _takes_offset(stream):
    """True if stream.write(buf, off, n) works: a zero-byte write tells, once."""
    try:
        stream.write(b"", 0, 0)
        return True
    except (TypeError, ValueError, AttributeError):
        return False
    except OSError:  # a real port that failed the empty write: it did parse the arguments
        return True


def _default_output():
    if IMPLEMENTATION == "circuitpython":
        # CircuitPython's console has no binary stdout: its text write turns every \n of a
        # frame into \r\n. Frames go on the data channel or nowhere.
        try:
            import usb_cdc
            if usb_cdc.data is not None:
                return usb_cdc.data
        except ImportError:
            pass
        raise RuntimeError(CONSOLE_REFUSED + CONSOLE_FIX)
    return getattr(sys.stdout, "buffer", sys.stdout)


class Input:
    """read() -> next byte (0..255) or -1 when nothing is waiting. Never blocks."""

    def __init__(self, stream=None):
        self._one = bytearray(1)
        self._read = self._none
        if stream is not None:
            self.stream = stream
            self._read = self._from_stream
            return
        if WASM:
            try:
                import js
                f = js.globalThis.edgeloopReadByte
                self._js = f
                self._read = self._from_js
            except (ImportError, AttributeError):
                pass
            return
        if IMPLEMENTATION == "circuitpython":
            try:
                import usb_cdc
                if usb_cdc.data is not None:
                    self.stream = usb_cdc.data
                    self._read = self._from_stream
                    return
            except ImportError:
                pass
            try:
                import supervisor
                self._sup = supervisor.runtime
            except (ImportError, AttributeError):
                return
            # The console in binary: usb_cdc.console (a bytes stream, no decoding, no
            # \r -> \n), else sys.stdin.buffer where the port has it; the text sys.stdin
            # only as a last resort (readinto: no UTF-8 decoding, but boards still turn
            # \r into \n there, which the command's CRC then refuses).
            console = None
            try:
                import usb_cdc
                console = getattr(usb_cdc, "console", None)
            except ImportError:
                pass
            if console is not None:
                self.stream = console
                self._read = self._from_stream
                return
            self.stream = getattr(sys.stdin, "buffer", sys.stdin)
            self._read = self._from_console
            return
        if IMPLEMENTATION == "micropython":
            try:
                import select
                p = select.poll()
                p.register(sys.stdin, select.POLLIN)
                self._poll = p
                self.stream = getattr(sys.stdin, "buffer", sys.stdin)
                self._read = self._from_polled
            except (ImportError, OSError):
                pass

    def read(self):
        return self._read()

    def _none(self):
        return -1

    def _from_stream(self):
        # usb_cdc.data says how much is waiting; other streams (io.BytesIO, test fakes) return 0/None when empty.
        if hasattr(self.stream, "in_waiting") and not self.stream.in_waiting:
            return -1
        n = self.stream.readinto(self._one)
        return self._one[0] if n else -1

    def _from_console(self):
        if not self._sup.serial_bytes_available:
            return -1
        n = self.stream.readinto(self._one)  # bytes as sent: read(1) would decode text (0x80 raised)
        return self._one[0] if n else -1

    def _from_polled(self):
        for _ in self._poll.ipoll(0):
            if self.stream.readinto(self._one):
                return self._one[0]
        return -1

    def _from_js(self):
        b = self._js()
        return b if b is not None and b >= 0 else -1
