"""`usb_cdc` as CircuitPython boards have it, for the virtual board on the unix port.

The console is the REPL's stdin/stdout (the sim's first pty); the data channel
is a second pty whose master the sim hands this interpreter as a file
descriptor (edgeloop.sim.unix). As on a board, `enable()` is accepted only
while boot.py runs, and the data channel exists only after a boot.py that
asked for it ran at a hard reset: until then `usb_cdc.data` is None. The
sim's REPL script (board_scripts/unix_repl.py) calls `_attach` and
`_boot_done`.
"""

import select
import sys

console = None
data = None

_state = {"fd": None, "in_boot": False, "want": False, "ctl": None}


class Serial:
    """A CDC port: bytes in, bytes out, never text (no newline translation)."""

    def __init__(self, rfile, wfile):
        self._r = rfile
        self._w = wfile
        self._poll = select.poll()
        self._poll.register(rfile, select.POLLIN)
        self._wpoll = select.poll()
        self._wpoll.register(wfile, select.POLLOUT)
        self._buf = bytearray(256)
        self._pos = 0
        self._n = 0
        self.timeout = None
        self.write_timeout = None

    def _fill(self):
        # The fd is non-blocking (the sim set it): take what has arrived, never wait.
        if self._pos < self._n:
            return
        self._pos = self._n = 0
        if self._poll.poll(0):
            n = self._r.readinto(self._buf)
            self._n = n or 0

    @property
    def in_waiting(self):
        self._fill()
        return self._n - self._pos

    @property
    def connected(self):
        return True

    def readinto(self, buf, n=None):
        n = len(buf) if n is None else n
        got = 0
        while got < n:
            self._fill()
            k = min(n - got, self._n - self._pos)
            if k <= 0:
                break
            for i in range(k):
                buf[got + i] = self._buf[self._pos + i]
            self._pos += k
            got += k
        return got

    def read(self, n=1):
        b = bytearray(n)
        return bytes(b[:self.readinto(b, n)])

    def write(self, buf, off=0, n=None):
        """Write all of buf[off:off+n] (blocking while the host does not read, as a board's
        CDC write with no write_timeout); returns the count."""
        if n is None:
            n = len(buf) - off
        mv = memoryview(buf)
        done = 0
        while done < n:
            self._wpoll.poll(-1)
            try:
                w = self._w.write(mv[off + done:off + n])
            except OSError:
                w = 0
            done += w or 0
        return n

    def flush(self):
        pass

    def reset_input_buffer(self):
        while self.in_waiting:
            self._pos = self._n

    def reset_output_buffer(self):
        pass


def enable(console=True, data=False):
    if not _state["in_boot"]:
        raise RuntimeError("Cannot change USB devices now")
    _state["want"] = bool(data)


def disable():
    enable(console=False, data=False)


def _attach(fd, ctl, hard, on):
    """Called by the sim before boot.py: the data pty's master (None while the data
    channel is off), the REPL's control pipe, and whether this start is a hard reset
    (only then does boot.py run, and only boot.py may call enable()); `on`: the
    data channel is enabled already (a soft reset keeps the USB interfaces)."""
    global console
    console = Serial(sys.stdin.buffer, sys.stdout.buffer)
    _state["ctl"] = ctl
    _state["fd"] = fd
    _state["in_boot"] = hard
    if on and not hard:
        _open_data()


def _open_data():
    global data
    if _state["fd"] is not None and data is None:
        f = open(_state["fd"], "r+b")
        data = Serial(f, f)


def _boot_done():
    """boot.py has run (or there was none): True when it asked for the data channel."""
    _state["in_boot"] = False
    if _state["want"]:
        _open_data()
    return _state["want"]
