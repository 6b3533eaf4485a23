"""The fleet view's pictures: a rich live table and the plain summary printed at the end (no I/O).

The same cells feed both, so what a pipe or a test reads is what the live table showed.
"""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .watch import DeviceRow, FleetState

COLUMNS = ("device", "gateway", "class", "inferences", "inf/s", "latency_ms", "free_heap_KiB", "drops", "lost",
           "last_seen")
STALE_S = 10.0  # a row not heard from for this long is drawn dim


def cells(row: DeviceRow, now: float | None = None, *, ago: bool = True) -> list[str]:
    """One device's values as text, in COLUMNS order; '-' for what it has not sent yet. Last seen is
    how long ago (live) or the host's clock time (the summary: no spaces inside a cell)."""
    now = time.time() if now is None else now
    rate = row.rate()
    seen = "-"
    if row.last_seen is not None:
        seen = (f"{max(0.0, now - row.last_seen):.0f} s ago" if ago
                else time.strftime("%H:%M:%S", time.localtime(row.last_seen)))
    return [
        row.device_id,
        row.gateway_id or "-",
        row.last_class if row.last_class is not None else "-",
        str(row.inferences),
        f"{rate:.1f}" if rate is not None else "-",
        f"{row.latency_us / 1000:.2f}" if row.latency_us is not None else "-",
        f"{row.free_heap / 1024:.1f}" if row.free_heap is not None else "-",
        str(row.dropped) if row.dropped is not None else "-",
        str(row.lost),
        seen,
    ]


def refused_text(state: FleetState) -> str:
    if not state.refused:
        return "none"
    return ", ".join(f"{reason} {n}" for reason, n in sorted(state.refused.items()))


def footer(state: FleetState, broker: str) -> str:
    return (f"{len(state.devices)} device(s); {state.received} messages from {broker}; "
            f"refused: {refused_text(state)}")


def render(state: FleetState, *, broker: str, connected: bool, now: float | None = None):
    now = time.time() if now is None else now
    t = Table(title=f"edgeloop fleet · {broker} · " + ("connected" if connected else "[bold red]disconnected, retrying"),
              caption="Ctrl-C to stop", expand=False)
    for i, name in enumerate(COLUMNS):
        t.add_column(name, justify="right" if 3 <= i <= 8 else "left", no_wrap=True)
    for row in state.rows():
        stale = row.last_seen is None or now - row.last_seen > STALE_S
        t.add_row(*cells(row, now), style="dim" if stale else None)
    if not state.devices:
        t.add_row("waiting for the first message…", *[""] * (len(COLUMNS) - 1))
    return Group(t, Text(footer(state, broker), style="yellow" if state.refused else "dim"))


def summary(state: FleetState, *, broker: str, now: float | None = None) -> str:
    """A plain table, one line per device (columns padded with spaces), then one line of totals."""
    lines = [list(COLUMNS)] + [cells(r, now, ago=False) for r in state.rows()]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    out = []
    for line in lines:
        out.append("  ".join(c.rjust(w) if 3 <= i <= 8 else c.ljust(w)
                             for i, (c, w) in enumerate(zip(line, widths))).rstrip())
    if not state.devices:
        out = ["no device published while watching"]
    out.append(footer(state, broker))
    return "\n".join(out)
