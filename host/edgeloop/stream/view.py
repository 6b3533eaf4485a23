"""The monitor's live picture, built from LiveStats with rich (no I/O here)."""

from __future__ import annotations

import time

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .reader import LossCounts
from .stats import LiveStats

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values, width: int = 60) -> str:
    vals = list(values)[-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    return "".join(_BLOCKS[min(7, int((v - lo) / span * 7.999))] for v in vals)


def bar(fraction: float, width: int = 30) -> str:
    n = max(0, min(width, round(fraction * width)))
    return "█" * n + "·" * (width - n)


def detection_lines(stats: LiveStats) -> list[str]:
    """The last detections, newest first: host time, class, smoothed score, the detector's time."""
    classes = stats.classes
    out = []
    for host_t, d in reversed(stats.recent_detections):
        c = d["class_index"]
        name = classes[c] if c < len(classes) else str(c)
        where = f" (window {d['window_index']})" if d.get("window_index") is not None else ""
        out.append(f"{time.strftime('%H:%M:%S', time.localtime(host_t))}  {name:<10} "
                   f"{d['score'] / 65535:6.1%}  at {d['time_ms']} ms{where}")
    return out


def render(stats: LiveStats, counts: LossCounts, *, port: str, plot: bool = False, db: str | None = None):
    h = stats.hello or {}
    head = Text()
    state = "[connected]" if stats.connected else "[disconnected — waiting for the board]"
    head.append(f"{port} ", style="bold")
    head.append(state + "\n", style="green" if stats.connected else "bold red")
    if h:
        head.append(f"{h.get('board')} · {h.get('firmware')} · model {h.get('model_hash') or '-'} · "
                    f"{h.get('sensor')} {h.get('rate_hz')} Hz × {h.get('channels')} ({h.get('units')})\n")
    if db:
        head.append(f"logging to {db}\n", style="dim")

    scores = Table.grid(padding=(0, 1))
    inf = stats.last_inference
    classes = stats.classes
    if inf:
        for i, s in enumerate(inf["scores"]):
            name = classes[i] if i < len(classes) else str(i)
            p = s / 65535
            style = "bold green" if i == inf["top"] else ""
            scores.add_row(Text(name, style=style), Text(bar(p), style=style), f"{p:6.1%}")
    else:
        scores.add_row("waiting for the first inference…")

    m = Table.grid(padding=(0, 2))
    st = stats.last_status or {}
    m.add_row("inferences/s", f"{stats.inferences_per_s():.1f}", "inferences", str(stats.inferences))
    m.add_row("latency", f"{inf['latency_us'] / 1000:.2f} ms" if inf else "-",
              "free heap", f"{st['free_heap'] / 1024:.1f} KiB" if st else "-")
    if st:
        m.add_row("capture", f"{st['capture_us']} µs", "features", f"{st['features_us']} µs")
    m.add_row("frames", str(counts.frames), "dropped / corrupt", f"{counts.dropped} / {counts.corrupt}")
    m.add_row("disconnects", str(stats.disconnects), "board overruns", str(st.get("dropped", 0)) if st else "-")

    parts = [head, Panel(scores, title="top class"), m]
    if stats.detections:
        parts.append(Panel(Text("\n".join(detection_lines(stats)), style="bold"),
                           title=f"detections ({stats.detections}, latest first)"))
    if plot:
        lines = Text()
        sc = stats.scale
        for c, raw in enumerate(stats.channels):
            q = [v * sc for v in raw]
            name = "xyzabc"[c] if len(stats.channels) <= 6 else str(c)
            last = f"{q[-1]:+.3f}" if q else ""
            lines.append(f"{name} {sparkline(q)} {last}\n")
        parts.append(Panel(lines or Text("waiting for samples…"), title="sensor"))
    if stats.events:
        parts.append(Text("\n".join(stats.events), style="yellow"))
    return Panel(Group(*parts), title="edgeloop monitor", subtitle="Ctrl-C to stop")
