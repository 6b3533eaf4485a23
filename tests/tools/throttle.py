"""A process given a small share of the CPU, as a loaded machine gives it, on purpose and repeatably.

CPU hogs (stress-ng) starve everything on the machine by however much the
scheduler decides; this starves one process by a known share: it is stopped
(SIGSTOP) for most of every short period and let run (SIGCONT) for the rest.
The process sees a slow CPU and a wall clock that keeps going, which is what
a busy CI machine looks like from inside a virtual board.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading


@contextlib.contextmanager
def cpu_share(pid: int, share: float, period: float = 0.05):
    """Let `pid` run only `share` of each `period` seconds while the block runs."""
    stop = threading.Event()

    def duty():
        run, pause = period * share, period * (1 - share)
        try:
            while not stop.is_set():
                os.kill(pid, signal.SIGSTOP)
                stop.wait(pause)
                os.kill(pid, signal.SIGCONT)
                stop.wait(run)
        except ProcessLookupError:
            pass

    t = threading.Thread(target=duty, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
