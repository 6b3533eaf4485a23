"""The report as one self-contained HTML page: tables and inline SVG charts, nothing fetched."""

from __future__ import annotations

import html

from . import svg
from .data import Report
from .text import kb, layer_label


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{r.index}</td><td>{e(r.op)}</td><td title='{e(r.layer)}'>{e(layer_label(r.layer))}</td>"
        f"<td>{'×'.join(map(str, r.shape))}</td><td class=n>{r.macs:,}</td>"
        f"<td class=n>{kb(r.const_bytes) if r.const_bytes else ''}</td></tr>" for r in report.layers)
    label = [f"{r.index} {r.op} {layer_label(r.layer, 18)}" for r in report.layers]
    macs = svg.bars([(lbl, r.macs) for lbl, r in zip(label, report.layers)], lambda v: f"{int(v):,}")
    weights = svg.bars([(lbl, r.const_bytes) for lbl, r in zip(label, report.layers)],
                       lambda v: kb(int(v)), "#d9822b")
    arena_items = [("edgeloop arena", report.arena_size)]
    if report.tflm_arena is not None:
        arena_items.append(("TFLM arena", report.tflm_arena))
    arena = svg.bars(arena_items, lambda v: kb(int(v)), "#4d9a4d")
    acc_html = ""
    if report.accuracy:
        a = report.accuracy
        head = "".join(f"<th>{e(r)}</th>" for r in a.per_class)
        body = "".join(f"<tr><td>{e(c)}</td><td class=n>{a.counts[i]}</td>"
                       + "".join(f"<td class=n>{a.per_class[r][i]:.1%}</td>" for r in a.per_class) + "</tr>"
                       for i, c in enumerate(a.classes))
        body += ("<tr><th>all</th><th class=n>" + str(a.samples) + "</th>"
                 + "".join(f"<th class=n>{a.overall[r]:.1%}</th>" for r in a.per_class) + "</tr>")
        same = (f"<p>edgeloop output bytes identical to TFLM on {a.identical_to_tflm}/{a.samples} samples.</p>"
                if a.identical_to_tflm is not None else "")
        acc_html = (f"<h2>Accuracy on {a.samples} labelled samples</h2>"
                    f"<table><tr><th>class</th><th>n</th>{head}</tr>{body}</table>{same}"
                    + svg.grouped(a.classes, a.per_class))
    notes = "".join(f"<p class=note>{e(n)}</p>" for n in report.notes)
    tflm_kb = kb(report.tflm_arena) if report.tflm_arena is not None else "n/a"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeloop convert report: {e(report.source)}</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}}
.n{{text-align:right;font-variant-numeric:tabular-nums}}.note{{color:#a55}}</style></head><body>
<h1>edgeloop convert report</h1>
<p><b>{e(report.source)}</b>: {len(report.layers)} ops, {report.macs:,} MACs per inference,
model file {kb(report.model_bytes)} (.tflite {kb(report.tflite_bytes)}, weights and biases {kb(report.const_bytes)}),
arena {kb(report.arena_size)} (TFLM's arena for the same model: {tflm_kb}).</p>
<h2>Layers</h2><table><tr><th>#</th><th>op</th><th>layer</th><th>output</th><th>MACs</th><th>weights</th></tr>{rows}</table>
<h2>MACs per layer</h2>{macs}
<h2>Constant bytes per layer</h2>{weights}
<h2>Arena</h2>{arena}
{acc_html}{notes}
</body></html>
"""
