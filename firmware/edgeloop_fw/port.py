"""What the running port offers, detected once, so no other module forks on it.

The same files run on MicroPython, CircuitPython and CPython (host tests).
Each of them spells time, memory and `const` differently; this module hides
that behind a few names. Every tick value here is a small int that wraps
(`TICKS_PERIOD`), so loops that read the clock per sample never allocate a
long int — use `ticks_diff`/`ticks_add`, never plain subtraction.
"""

import gc
import sys
import time

try:
    from micropython import const
except ImportError:  # CPython, CircuitPython builds without it
    def const(x):
        return x

IMPLEMENTATION = sys.implementation.name  # "micropython", "circuitpython", "cpython"
WASM = sys.platform == "webassembly"

if hasattr(time, "ticks_us"):  # MicroPython
    ticks_us = time.ticks_us
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    TICKS_PERIOD = None  # the port's own wrap; only ticks_diff/ticks_add know it
else:
    TICKS_PERIOD = const(1 << 29)
    _HALF = const(1 << 28)
    _MASK = const((1 << 29) - 1)

    try:  # CircuitPython: supervisor.ticks_ms is a small int; monotonic_ns would allocate
        from supervisor import ticks_ms as _ticks_ms_raw

        def ticks_ms():
            return _ticks_ms_raw() & _MASK

        _us_state = [0, 0]  # last supervisor ms (wraps at 2**29), running µs counter

        def ticks_us():
            # Millisecond resolution, like the virtual board's own ticks_us;
            # accumulated so the µs counter wraps at the same 2**29 as ticks_diff.
            now = _ticks_ms_raw()
            d = (now - _us_state[0]) & _MASK
            _us_state[0] = now
            _us_state[1] = (_us_state[1] + d * 1000) & _MASK
            return _us_state[1]
    except ImportError:  # CPython
        def ticks_us():
            return (time.monotonic_ns() // 1000) & _MASK

        def ticks_ms():
            return (time.monotonic_ns() // 1000000) & _MASK

    def ticks_diff(a, b):
        return ((a - b + _HALF) & _MASK) - _HALF

    def ticks_add(a, delta):
        return (a + delta) & _MASK


def sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def mem_free():
    """Free heap in bytes (-1 where the port cannot say, e.g. CPython)."""
    f = getattr(gc, "mem_free", None)
    return f() if f else -1


def mem_alloc():
    f = getattr(gc, "mem_alloc", None)
    return f() if f else -1


def platform_name():
    """A short board/port description for the hello frame."""
    try:
        import os
        return os.uname().machine
    except (ImportError, AttributeError):
        return sys.platform


def file_exists(path):
    """True when `path` exists (one stat; no os.path on MicroPython)."""
    import os
    try:
        os.stat(path)
        return True
    except OSError:
        return False
