"""Inline SVG bar charts for the HTML page: no scripts and no network, so the page works offline."""

from __future__ import annotations

import html
from typing import Callable


def bars(items: list[tuple[str, float]], fmt: Callable[[float], str], color: str = "#3b6ea8") -> str:
    """Horizontal bars, one per item, labels left and values right."""
    if not items:
        return ""
    row, label_w, bar_w, value_w = 20, 190, 420, 110
    top = max((v for _, v in items), default=0) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + value_w}" '
           f'height="{row * len(items) + 6}" font-family="sans-serif" font-size="12">']
    for i, (label, v) in enumerate(items):
        y = i * row + 3
        w = max(1.0, bar_w * v / top) if v else 0
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 5}" fill="{color}"/>'
                   f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{html.escape(fmt(v))}</text>')
    out.append("</svg>")
    return "".join(out)


def grouped(groups: list[str], series: dict[str, list[float]]) -> str:
    """Vertical grouped bars for per-class accuracy (0..1), one colour per runner."""
    colors = ["#8c8c8c", "#3b6ea8", "#d9822b", "#4d9a4d"]
    names = list(series)
    bw, gap, h, left = 16, 18, 160, 36
    gw = bw * len(names) + gap
    width = left + gw * len(groups) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 60}" '
           f'font-family="sans-serif" font-size="11">']
    for frac in (0, 0.5, 1):
        y = 10 + h * (1 - frac)
        out.append(f'<line x1="{left}" x2="{width}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{frac:.0%}</text>')
    for g, label in enumerate(groups):
        x0 = left + g * gw + gap / 2
        for s, name in enumerate(names):
            v = series[name][g]
            out.append(f'<rect x="{x0 + s * bw}" y="{10 + h * (1 - v):.1f}" width="{bw - 2}" '
                       f'height="{h * v:.1f}" fill="{colors[s % len(colors)]}"><title>{html.escape(name)}: '
                       f'{v:.1%}</title></rect>')
        out.append(f'<text x="{x0 + len(names) * bw / 2}" y="{h + 26}" text-anchor="middle">{html.escape(label)}</text>')
    for s, name in enumerate(names):
        x = left + s * 150
        out.append(f'<rect x="{x}" y="{h + 38}" width="10" height="10" fill="{colors[s % len(colors)]}"/>'
                   f'<text x="{x + 14}" y="{h + 47}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
