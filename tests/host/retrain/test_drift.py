"""`edgeloop drift` on real takes with an induced shift, its numbers recomputed independently.

The log (tests/tools/field_log.py) holds the shipped gesture model's held-out
takes twice: as recorded from device d1 on day 0, and from device d2 on day 1
with the accelerometer offset by +300 mg on x and -200 mg on z (a sensor
mounted differently, a bias after a drop). The training side is rebuilt here
from the parquet (pyarrow) with numpy windows; PSI is computed here with
numpy from the training deciles, KS with scipy's ks_2samp on the full
training sample: neither reuses the drift code.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ks_2samp

from edgeloop import modelinfo, trainref
from edgeloop.retrain import drift as D
from tests.host.train.test_training_reference import features_of, takes_mg
from tests.host.train.test_train_gesture import PARQUET, numpy_windows
from tests.tools import field_log
from tests.tools.cli_result import invoke, one_line
from tests.tools.paths import REPO

MODEL = REPO / "models" / "gesture"
SHIFT = np.array([300.0, 0.0, -200.0])
pytestmark = pytest.mark.skipif(not PARQUET.exists(), reason=f"shared test data not found at {PARQUET}")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("drift") / "log.sqlite"
    test = field_log.takes(modelinfo.load(MODEL).split["test"])
    field_log.write(path, MODEL, test, device="d1", day=0)
    field_log.write(path, MODEL, test, device="d2", day=1, shift=lambda x: x + SHIFT)
    return path


def numpy_psi(train: np.ndarray, field: np.ndarray) -> float:
    """PSI as docs/training-reference.md defines it, written out with numpy."""
    cuts = np.unique(np.quantile(train, np.arange(1, 10) / 10))
    bins = len(cuts) + 1
    e = np.array([(np.digitize(train, cuts) == b).mean() for b in range(bins)])
    e = np.where(e < 1e-4, 1e-4, e)
    counts = np.array([(np.digitize(field, cuts) == b).sum() for b in range(bins)])
    a = (counts + 0.5) / (len(field) + 0.5 * bins)
    return float(((a - e) * np.log(a / e)).sum())


@pytest.fixture(scope="module")
def sides():
    info = modelinfo.load(MODEL)
    takes = takes_mg(info)
    train = features_of(np.concatenate([numpy_windows(takes[n][1], info.window, info.train_hop)
                                        for n in info.split["train"]]))
    held = np.concatenate([numpy_windows(takes[n][1], info.window, info.hop) for n in info.split["test"]])
    shifted = np.clip(np.round(held + SHIFT), -32768, 32767)
    return train, features_of(held), features_of(shifted)


def test_psi_and_ks_per_feature_match_numpy_and_scipy(db, sides):
    train, held, shifted = sides
    r = D.check(db, MODEL)
    groups = {(g.by, g.key): g for g in r.groups}
    for key, field in ((("device", "d1"), held), (("device", "d2"), shifted),
                       (("day", "2026-05-29"), shifted), (("all", "all windows"), np.concatenate([held, shifted]))):
        g = groups[key]
        assert g.windows == len(field)
        for j, name in enumerate(r.reference["features"]):
            assert g.psi[name] == pytest.approx(numpy_psi(train[:, j], field[:, j]), rel=1e-9, abs=1e-12), (key, name)
            ks = ks_2samp(field[:, j], train[:, j])
            assert g.ks[name] == pytest.approx((ks.statistic, ks.pvalue), rel=1e-9, abs=1e-300), (key, name)


def test_the_reference_records_how_far_the_held_out_takes_sit(sides):
    train, held, _ = sides
    ref = json.loads((MODEL / trainref.FILE_NAME).read_text())
    for j, name in enumerate(ref["features"]):
        assert ref["heldout"]["psi"][name] == pytest.approx(numpy_psi(train[:, j], held[:, j]), abs=1e-6)
        assert ref["heldout"]["ks"][name] == pytest.approx(ks_2samp(held[:, j], train[:, j]).statistic, abs=1e-6)


def test_the_shifted_device_and_day_are_flagged_and_the_recorded_ones_are_not(db):
    r = D.check(db, MODEL)
    verdicts = {(g.by, g.key): g.verdict for g in r.groups}
    assert verdicts == {("all", "all windows"): "drift", ("device", "d1"): "stable", ("device", "d2"): "drift",
                        ("day", "2026-05-28"): "stable", ("day", "2026-05-29"): "drift"}
    d2 = next(g for g in r.groups if g.key == "d2")
    assert any(reason.startswith("PSI x_mean") for reason in d2.reasons)
    assert not any("y_" in reason for reason in d2.reasons if reason.startswith("PSI"))  # y was not shifted


def test_low_confidence_share_is_the_logged_scores_below_the_threshold(db):
    import sqlite3

    con = sqlite3.connect(db)
    conf = np.array([c for (c,) in con.execute("SELECT confidence FROM inferences WHERE device_id = 'd1'")])
    g = next(g for g in D.check(db, MODEL).groups if g.key == "d1")
    assert g.low_share == pytest.approx((conf < 0.6).mean())


def test_cli_prints_the_verdict_then_the_numbers(db):
    r = invoke("drift", "--db", db, "--model", MODEL)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("DRIFT:") and "device d2" in lines[0] and "device d1" not in lines[0]
    row = next(ln for ln in lines if ln.startswith("device d1"))
    assert row.split()[-1] == "stable"
    assert any(ln.split()[:1] == ["x_mean"] for ln in lines)


def test_refusals_are_one_line(db, tmp_path):
    out = one_line(invoke("drift", "--db", db, "--model", REPO / "models" / "gesture_trees"))
    assert "no logged windows of model" in out and "--any-model" in out
    bare = tmp_path / "m"
    bare.mkdir()
    for name in ("model.json", "gesture.elm"):
        (bare / name).write_bytes((MODEL / name).read_bytes())
    out = one_line(invoke("drift", "--db", db, "--model", bare))
    assert "--make-reference" in out
    r = invoke("drift", "--db", db, "--model", bare, "--make-reference")
    assert r.exit_code == 0, r.output
    assert json.loads((bare / trainref.FILE_NAME).read_text()) == json.loads((MODEL / trainref.FILE_NAME).read_text())
    out = one_line(invoke("drift", "--db", db, "--model", REPO / "models" / "keyword"))
    assert "keyword model" in out
