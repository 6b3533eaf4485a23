"""`supervisor` as CircuitPython boards have it, for the unix port (which has none).

ticks_ms wraps at 2**29 like the board's; runtime.serial_bytes_available
polls stdin (the console). The rest (reload, set_next_code_file, ...) does
nothing the firmware needs, so only harmless stand-ins exist.
"""

import _builtin

_t = _builtin.load("time")

_MASK = (1 << 29) - 1


def ticks_ms():
    return _t.ticks_ms() & _MASK  # unix wraps at 2**30; masking keeps a 2**29 period


class _Runtime:
    usb_connected = True
    serial_connected = True
    autoreload = False

    def __init__(self):
        self._poll = None

    @property
    def serial_bytes_available(self):
        if self._poll is None:
            import select
            import sys
            self._poll = select.poll()
            self._poll.register(sys.stdin, select.POLLIN)
        for _ in self._poll.ipoll(0):  # ipoll, not poll: no list per call (the board's is C)
            return 1
        return 0


runtime = _Runtime()


def reload():
    raise SystemExit(0)


def set_next_code_file(*args, **kwargs):
    pass
