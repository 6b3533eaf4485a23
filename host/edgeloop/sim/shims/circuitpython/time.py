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


def monotonic_ns():
    return _t.time_ns()  # wall clock in ns: the unix port's only ns clock; fine for tests


def monotonic():
    return _t.time_ns() / 1e9  # a single-precision float, as on boards (loses ms after hours)
