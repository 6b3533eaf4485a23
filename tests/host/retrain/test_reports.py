"""HTML reports of drift and retrain: one offline file, plots embedded, numbers as the command printed them.

The page is read back with the standard library's HTML parser; each embedded
image is decoded and opened with matplotlib's own PNG reader; nothing on the
page points outside the file.
"""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import pytest

from tests.host.retrain.test_drift import MODEL as GESTURE, db  # noqa: F401  (module fixture: the shifted log)
from tests.host.retrain.test_retrain import promoted  # noqa: F401  (module fixture: a promoted candidate)
from tests.tools.cli_result import invoke

pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'edgeloop[report]')")


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.cells = [], [], []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        for key in ("href", "src"):
            if key in a and tag != "img":
                self.links.append(a[key])
        if tag in ("td", "th"):
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append(self._cell.strip())
            self._cell = None


def read(path) -> Page:
    import matplotlib.image as mpimg

    p = Page()
    p.feed(path.read_text())
    assert p.images and not p.links
    for src in p.images:
        assert src.startswith("data:image/png;base64,")
        img = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert img.shape[0] > 50 and img.shape[1] > 50
    return p


def test_drift_report(db, tmp_path):  # noqa: F811
    out = tmp_path / "drift.html"
    r = invoke("drift", "--db", db, "--model", GESTURE, "--report", out)
    assert r.exit_code == 0, r.output
    page = read(out)
    assert len(page.images) == 2  # PSI heat map; PSI and unsure share per day
    printed = {ln.split()[0]: ln.split()[1] for ln in r.output.splitlines() if ln.startswith("x_mean")}
    i = len(page.cells) - 1 - page.cells[::-1].index("x_mean")  # the per-feature table comes last
    assert page.cells[i + 1] == printed["x_mean"]  # the PSI the command printed
    assert "drift" in page.cells and "stable" in page.cells


def test_retrain_report(promoted, tmp_path):  # noqa: F811
    db, out_model, _ = promoted
    out = tmp_path / "retrain.html"
    r = invoke("retrain", "--from", "models/gesture_trees", "--db", db, "--out", tmp_path / "m", "--report", out)
    assert r.exit_code == 0, r.output
    page = read(out)
    assert len(page.images) == 2  # confusion matrices + per-class accuracy for each set
    line = next(ln for ln in r.output.splitlines() if ln.startswith("held-out field sessions") and "evaluator" in ln)
    assert line.split()[-2] + " %" in page.cells or f"{line.split()[-3]} %" in page.cells
