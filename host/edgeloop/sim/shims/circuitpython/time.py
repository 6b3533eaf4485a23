"""`time` as CircuitPython boards have it (shared-bindings/time), over the unix port's.

Boards have monotonic, monotonic_ns, sleep, time, localtime, mktime and
struct_time, and no ticks_* / sleep_ms (those live in supervisor.ticks_ms or
nowhere). The unix port's `time` is MicroPython's, so without this shim code
that feature-detects `time.ticks_ms` would take a path no board takes.
"""

import _builtin

_t = _builtin.load("time")

sleep = _t.sleep
time = _t.time
localtime = _t.localtime
mktime = _t.mktime
struct_time = tuple  # boards: a 9-field named tuple; nothing here builds one


_BOOT_NS = _t.time_ns()


def monotonic_ns():
    return _t.time_ns() - _BOOT_NS  # from "boot" (this import), as on boards


def monotonic():
    # A single-precision float as on boards, counted from boot so it keeps ms
    # resolution for hours (a wall-clock value near 1.8e9 would not).
    return (_t.time_ns() - _BOOT_NS) / 1e9
