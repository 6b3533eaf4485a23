"""The convert report: what the model costs and what quantization did to it.

Per layer: op, output shape, MACs, constant bytes. Per model: file size,
arena size next to TFLM's own arena for the same .tflite (the smallest arena
TFLM's interpreter accepts, found by bisection), and, with labelled data,
the accuracy of the float model (TensorFlow), of the int8 .tflite under TFLM
and of edgeloop's converted model under edgeloop's runtime (CPython), per
class -- so the quantization loss is visible before anything is flashed.

Library code: builds a `Report` and renders it as a rich renderable or as
self-contained HTML (inline SVG, no scripts, no network); printing is the
CLI's business.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ModelError
from ..reference import tflm
from ..reference.arena import smallest_arena
from .int8 import Converted


@dataclass
class LayerRow:
    index: int
    op: str
    layer: str  # full name of the op's first output tensor
    shape: tuple[int, ...]
    macs: int
    const_bytes: int


@dataclass
class Accuracy:
    samples: int
    classes: list[str]
    counts: list[int]
    # runner ("float (TensorFlow)", "int8 TFLite (TFLM)", "edgeloop") -> per-class accuracy, overall
    per_class: dict[str, list[float]] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    identical_to_tflm: int | None = None  # samples whose edgeloop output bytes equal TFLM's


@dataclass
class Report:
    source: str
    model_bytes: int
    tflite_bytes: int
    arena_size: int
    tflm_arena: int | None
    layers: list[LayerRow]
    accuracy: Accuracy | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def const_bytes(self) -> int:
        return sum(r.const_bytes for r in self.layers)


def layer_label(name: str, width: int = 40) -> str:
    """The Keras layer a tensor name points at: 'model/dense_1/MatMul;...' -> 'dense_1'."""
    first = name.split(";")[0]
    parts = [p for p in first.split("/") if p]
    label = parts[-2] if len(parts) >= 3 else first
    return label if len(label) <= width else label[:width - 1] + "…"


def layer_rows(converted: Converted) -> list[LayerRow]:
    model = converted.tflite
    rows = []
    for op, summary in zip(model.operators, converted.ops):
        consts = {i for i in op.inputs if i >= 0 and model.tensors[i].is_constant}
        out = model.tensors[op.outputs[0]].shape if op.outputs else ()
        # Constants of MAC-free ops (a RESHAPE's target shape) are not weights.
        weights = sum(model.tensors[i].nbytes for i in consts) if summary.macs else 0
        rows.append(LayerRow(op.index, summary.name, summary.layer, tuple(out), summary.macs, weights))
    return rows


# -- validation -------------------------------------------------------------------

def load_validation(path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """x, integer labels, and class names (npz key 'classes', optional)."""
    from .keras import load_array

    x = load_array(path, "validation", "x")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "y" not in data:
                raise ModelError(f"validation file {path} has no 'y' array; save it with np.savez(path, x=..., y=labels)")
            y = data["y"]
            names = [str(c) for c in data["classes"]] if "classes" in data else None
    except (ValueError, OSError):
        raise ModelError(f"validation file {path} must be a .npz holding arrays x and y") from None
    if y.ndim == 2:
        y = y.argmax(axis=1)  # one-hot
    if y.ndim != 1 or len(y) != len(x):
        raise ModelError(f"validation labels y have shape {y.shape} for {len(x)} samples; give one integer label per sample")
    return x, y.astype(np.int64), names


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float → int8 the way TFLite's QUANTIZE does (round half away from zero)."""
    v = np.asarray(x, np.float64) / np.float64(np.float32(scale))
    v = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point
    return np.clip(v, -128, 127).astype(np.int8)


def validate(converted: Converted, tflite: bytes, x: np.ndarray, y: np.ndarray, *,
             float_predict: Callable[[np.ndarray], np.ndarray] | None = None,
             class_names: list[str] | None = None,
             progress: Callable[[int, int], None] | None = None) -> Accuracy:
    """Run the three models on x and score them against y, per class."""
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    ours = Interpreter(Model(io.BytesIO(converted.data)))
    t_in = ours.model.inputs[0]
    want = tuple(t_in.shape)
    if tuple(x.shape[1:]) != want[1:]:
        expected = "(N, " + ", ".join(str(d) for d in want[1:]) + ")"
        raise ModelError(f"validation x has shape {tuple(x.shape)} but the model's input is {want}; give x shaped {expected}")
    xq = x.astype(np.int8) if x.dtype == np.int8 else quantize_input(x, t_in.scale, t_in.zero_point)
    ref = tflm.optional_interpreter(tflite)
    preds = {"int8 TFLite (TFLM)": []} if ref is not None else {}
    preds["edgeloop"] = []
    same = 0
    n = len(x)
    for i in range(n):
        sample = np.ascontiguousarray(xq[i:i + 1].reshape(want))
        ours.set_input(sample.tobytes())
        ours.invoke()
        out = np.frombuffer(ours.get_output(), np.int8)
        preds["edgeloop"].append(int(out.argmax()))
        if ref is not None:
            r = tflm.invoke(ref, sample).reshape(-1)
            preds["int8 TFLite (TFLM)"].append(int(r.argmax()))
            same += int(r.tobytes() == out.tobytes())
        if progress:
            progress(i + 1, n)
    if float_predict is not None and x.dtype != np.int8:
        out = np.concatenate([np.asarray(float_predict(x[i:i + 64])).reshape(len(x[i:i + 64]), -1)
                              for i in range(0, n, 64)])
        preds = {"float (TensorFlow)": out.argmax(axis=1).tolist(), **preds}
    labels = sorted(set(y.tolist()))
    names = [class_names[c] if class_names and 0 <= c < len(class_names) else str(c) for c in labels]
    acc = Accuracy(n, names, [int((y == c).sum()) for c in labels],
                   identical_to_tflm=same if ref is not None else None)
    for runner, p in preds.items():
        p = np.asarray(p)
        acc.per_class[runner] = [float((p[y == c] == c).mean()) for c in labels]
        acc.overall[runner] = float((p == y).mean())
    return acc


def build_report(converted: Converted, tflite: bytes, source: str, *, tflm_arena: bool = True) -> Report:
    notes = []
    arena = smallest_arena(tflite) if tflm_arena else None
    if tflm_arena and arena is None:
        notes.append(f"TFLM's arena not measured: tflite-micro is not installed ({tflm.HINT})")
    return Report(source, len(converted.data), len(tflite), converted.arena_size, arena,
                  layer_rows(converted), notes=notes)


# -- rendering --------------------------------------------------------------------

def _kb(n: int) -> str:
    return f"{n:,} B" if n < 10240 else f"{n / 1024:,.1f} KiB"


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
                       f"{r.macs:,}", _kb(r.const_bytes) if r.const_bytes else "")
    sizes = Table(show_header=False, box=None)
    sizes.add_row("model file", _kb(report.model_bytes), f"(.tflite {_kb(report.tflite_bytes)})")
    tflm = _kb(report.tflm_arena) if report.tflm_arena is not None else "n/a"
    sizes.add_row("arena", _kb(report.arena_size), f"(TFLM's arena for the same model: {tflm})")
    parts = [layers, sizes]
    if report.accuracy:
        a = report.accuracy
        t = Table(title=f"accuracy on {a.samples} labelled samples", title_justify="left")
        t.add_column("class")
        t.add_column("n", justify="right")
        for runner in a.per_class:
            t.add_column(runner, justify="right")
        for i, c in enumerate(a.classes):
            t.add_row(c, str(a.counts[i]), *[f"{a.per_class[r][i]:.1%}" for r in a.per_class])
        t.add_row("all", str(a.samples), *[f"{a.overall[r]:.1%}" for r in a.per_class], style="bold")
        parts.append(t)
        if a.identical_to_tflm is not None:
            parts.append(f"edgeloop output bytes identical to TFLM on {a.identical_to_tflm}/{a.samples} samples")
    parts += [f"note: {n}" for n in report.notes]
    return Group(*parts)


def _svg_bars(items: list[tuple[str, float]], fmt: Callable[[float], str], color: str = "#3b6ea8") -> str:
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


def _svg_grouped(groups: list[str], series: dict[str, list[float]]) -> str:
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


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{r.index}</td><td>{e(r.op)}</td><td title='{e(r.layer)}'>{e(layer_label(r.layer))}</td>"
        f"<td>{'×'.join(map(str, r.shape))}</td><td class=n>{r.macs:,}</td>"
        f"<td class=n>{_kb(r.const_bytes) if r.const_bytes else ''}</td></tr>" for r in report.layers)
    label = [f"{r.index} {r.op} {layer_label(r.layer, 18)}" for r in report.layers]
    macs = _svg_bars([(lbl, r.macs) for lbl, r in zip(label, report.layers)], lambda v: f"{int(v):,}")
    weights = _svg_bars([(lbl, r.const_bytes) for lbl, r in zip(label, report.layers)],
                        lambda v: _kb(int(v)), "#d9822b")
    arena_items = [("edgeloop arena", report.arena_size)]
    if report.tflm_arena is not None:
        arena_items.append(("TFLM arena", report.tflm_arena))
    arena = _svg_bars(arena_items, lambda v: _kb(int(v)), "#4d9a4d")
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
                    + _svg_grouped(a.classes, a.per_class))
    notes = "".join(f"<p class=note>{e(n)}</p>" for n in report.notes)
    tflm = _kb(report.tflm_arena) if report.tflm_arena is not None else "n/a"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeloop convert report: {e(report.source)}</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}}
.n{{text-align:right;font-variant-numeric:tabular-nums}}.note{{color:#a55}}</style></head><body>
<h1>edgeloop convert report</h1>
<p><b>{e(report.source)}</b>: {len(report.layers)} ops, {report.macs:,} MACs per inference,
model file {_kb(report.model_bytes)} (.tflite {_kb(report.tflite_bytes)}, weights and biases {_kb(report.const_bytes)}),
arena {_kb(report.arena_size)} (TFLM's arena for the same model: {tflm}).</p>
<h2>Layers</h2><table><tr><th>#</th><th>op</th><th>layer</th><th>output</th><th>MACs</th><th>weights</th></tr>{rows}</table>
<h2>MACs per layer</h2>{macs}
<h2>Constant bytes per layer</h2>{weights}
<h2>Arena</h2>{arena}
{acc_html}{notes}
</body></html>
"""
