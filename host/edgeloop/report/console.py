"""The report for the terminal, as a rich renderable: the caller decides where it is printed."""

from __future__ import annotations

from .data import Accuracy, Report
from .text import kb, layer_label


def renderable(report: Report):
    """A rich renderable of the report, for the terminal."""
    from rich.console import Group
    from rich.table import Table

    layers = Table(title=f"{report.source}: {len(report.layers)} ops, {report.macs:,} MACs", title_justify="left")
    for col, just in (("#", "right"), ("op", "left"), ("layer", "left"), ("output", "left"),
                      ("MACs", "right"), ("weights", "right")):
        layers.add_column(col, justify=just)
    for r in report.layers:
        layers.add_row(str(r.index), r.op, layer_label(r.layer), "×".join(map(str, r.shape)),
                       f"{r.macs:,}", kb(r.const_bytes) if r.const_bytes else "")
    sizes = Table(show_header=False, box=None)
    sizes.add_row("model file", kb(report.model_bytes), f"(.tflite {kb(report.tflite_bytes)})")
    tflm_kb = kb(report.tflm_arena) if report.tflm_arena is not None else "n/a"
    sizes.add_row("arena", kb(report.arena_size), f"(TFLM's arena for the same model: {tflm_kb})")
    parts = [layers, sizes]
    if report.accuracy:
        parts += accuracy_parts(report.accuracy)
    parts += [f"note: {n}" for n in report.notes]
    return Group(*parts)


def accuracy_parts(a: Accuracy) -> list:
    """The per-class accuracy table (and TFLM agreement), for the report or on its own (trees)."""
    from rich.table import Table

    t = Table(title=f"accuracy on {a.samples} labelled samples", title_justify="left")
    t.add_column("class")
    t.add_column("n", justify="right")
    for runner in a.per_class:
        t.add_column(runner, justify="right")
    for i, c in enumerate(a.classes):
        t.add_row(c, str(a.counts[i]), *[f"{a.per_class[r][i]:.1%}" for r in a.per_class])
    t.add_row("all", str(a.samples), *[f"{a.overall[r]:.1%}" for r in a.per_class], style="bold")
    parts = [t]
    if a.identical_to_tflm is not None:
        parts.append(f"edgeloop output bytes identical to TFLM on {a.identical_to_tflm}/{a.samples} samples")
    return parts
