"""HTML reports for `edgeloop drift` and `edgeloop retrain`: one file, plots embedded as PNG, readable offline.

matplotlib (the `report` extra) draws the plots; nothing is fetched when the
page is opened. Every number on the page comes from the DriftResult or the
retrain Outcome the command printed.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from ..atomic import write_text_atomic
from ..errors import EdgeloopError, ToolMissing

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "th:first-child,td:first-child{text-align:left}.drift{color:#b00;font-weight:bold}.watch{color:#a60}"
         "img{max-width:100%}")


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ToolMissing("the HTML report needs matplotlib, which is not installed: pip install 'edgeloop[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(head: list[str], rows: list[list]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{c if str(c).startswith('<span') else html.escape(str(c))}</td>"
                                    for c in r) + "</tr>")
    return "".join(out) + "</table>"


def _page(title: str, body: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>\n")


def _write(path, text: str) -> Path:
    path = Path(path)
    try:
        write_text_atomic(path, text)
    except OSError as e:
        raise EdgeloopError(f"cannot write the report {path}: {e.strerror}; pass --report with a writable path") from None
    return path


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def drift_report(result, path) -> Path:
    """PSI per feature and group (heat map), PSI and unsure share per day, the numbers."""
    from .drift import verdict_line

    plt = _plt()
    ref, groups, feats = result.reference, result.groups, result.reference["features"]
    body = [f"<p class='{result.overall.verdict}'>{html.escape(verdict_line(result))}</p>",
            f"<p>model {html.escape(str(result.model))} ({result.model_hash}); {result.overall.windows} logged windows</p>"]
    m = np.array([[g.psi[f] for f in feats] for g in groups])
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(groups) + 1.5))
    im = ax.imshow(m, aspect="auto", cmap="Reds", vmin=0, vmax=max(0.5, float(m.max())))
    ax.set_xticks(range(len(feats)), feats, rotation=60, ha="right")
    ax.set_yticks(range(len(groups)), [f"{g.by} {g.key}" if g.by != "all" else g.key for g in groups])
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="PSI")
    ax.set_title("PSI per feature (training reference vs field)")
    body += ["<h2>PSI per feature and group</h2>", _png(fig)]
    days = [g for g in groups if g.by == "day"]
    if days:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.5))
        x = range(len(days))
        for f in feats:
            a1.plot(x, [g.psi[f] for g in days], marker="o", label=f)
        a1.set_xticks(list(x), [g.key for g in days], rotation=30)
        a1.set_ylabel("PSI")
        a1.set_title("PSI per feature, per day")
        a1.legend(fontsize=6, ncol=2)
        a2.bar(list(x), [100 * (g.low_share or 0) for g in days], color="#3b6ea8")
        a2.axhline(100 * (ref["confidence"]["low_share"] or 0), color="k", ls="--", label="held out")
        a2.set_xticks(list(x), [g.key for g in days], rotation=30)
        a2.set_ylabel(f"% windows with top score < {ref['confidence']['low_threshold']:.1f}")
        a2.legend()
        a2.set_title("unsure share per day")
        body += ["<h2>Drift over time</h2>", _png(fig)]
    body.append("<h2>Groups</h2>")
    body.append(_table(["group", "windows", "unsure", "max PSI", "feature", "max KS", "p", "verdict"],
                       [[f"{g.by} {g.key}" if g.by != "all" else g.key, g.windows, _pct(g.low_share),
                         f"{g.worst_psi[1]:.3f}", g.worst_psi[0], f"{g.worst_ks[1][0]:.3f}", f"{g.worst_ks[1][1]:.2g}",
                         f"<span class='{g.verdict}'>{g.verdict}</span>"] for g in groups]))
    body.append("<h2>Per feature, all windows</h2>")
    body.append(_table(["feature", "PSI", "held-out PSI", "KS", "held-out KS", "p"],
                       [[f, f"{result.overall.psi[f]:.3f}", f"{ref['heldout']['psi'][f]:.3f}",
                         f"{result.overall.ks[f][0]:.3f}", f"{ref['heldout']['ks'][f]:.3f}",
                         f"{result.overall.ks[f][1]:.2g}"] for f in feats]))
    return _write(path, _page("edgeloop drift", body))


def retrain_report(outcome, path) -> Path:
    """The re-validation table, confusion matrices parent vs candidate per set, per-class accuracy."""
    plt = _plt()
    info = outcome.info
    classes = info.classes
    verdict = "promoted" if outcome.promoted else "forced" if outcome.forced else "refused"
    body = [f"<p class='{'watch' if outcome.forced else 'drift' if verdict == 'refused' else ''}'>"
            f"{verdict.upper()}{': ' + html.escape('; '.join(outcome.reasons)) if outcome.reasons else ''}</p>",
            f"<p>parent {html.escape(info.lineage['parent']['path'])} ({info.lineage['parent']['model_hash']}); "
            f"tolerance {100 * info.lineage['revalidation']['tolerance']:g} points on "
            f"{html.escape(info.lineage['revalidation']['runner_deciding'])}</p>",
            _table(["set", "runner", "windows", "parent", "candidate", "change"],
                   [[r.set, r.runner, r.windows, _pct(r.parent), _pct(r.candidate),
                     "" if r.delta is None else f"{100 * r.delta:+.1f}"] for r in outcome.rows])]
    for name, mats in outcome.confusion.items():
        fig, axes = plt.subplots(1, 3, figsize=(13, 4))
        for ax, who in zip(axes[:2], ("parent", "candidate")):
            m = np.array(mats[who])
            ax.imshow(m, cmap="Blues")
            ax.set_xticks(range(len(classes)), classes, rotation=45)
            ax.set_yticks(range(len(classes)), classes)
            for i in range(len(classes)):
                for j in range(len(classes)):
                    ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{who}")
        acc = {who: [m[i][i] / max(1, sum(m[i])) for i in range(len(classes))]
               for who, m in ((w, mats[w]) for w in ("parent", "candidate"))}
        x = np.arange(len(classes))
        axes[2].bar(x - 0.2, [100 * v for v in acc["parent"]], 0.4, label="parent")
        axes[2].bar(x + 0.2, [100 * v for v in acc["candidate"]], 0.4, label="candidate")
        axes[2].set_xticks(x, classes, rotation=45)
        axes[2].set_ylabel("% correct")
        axes[2].legend()
        axes[2].set_title("per-class accuracy")
        body += [f"<h2>{html.escape(name)} (edgeloop runtime)</h2>", _png(fig)]
    lin = info.lineage
    body.append("<h2>Lineage</h2>")
    body.append(_table(["data set", "sha256"], [[d.get("path") or (f"{d['db']} ({d['windows']} labelled windows)" if "db" in d
                                                                   else f"{d['kind']} ({d.get('clips')} clips)"),
                                                 d["sha256"]] for d in lin["data"]]))
    body.append(f"<p>seeds: {html.escape(str(lin['seeds']))}</p>")
    return _write(path, _page("edgeloop retrain", body))
