"""`edgeloop retrain` on real takes, checked against facts computed outside the retrain code.

Parent: the shipped tree model (models/gesture_trees). Field: its own training
takes as a board with a differently mounted sensor would log them (+300 mg
on x, -200 mg on z), one session per take, labelled with the takes' known
classes (as a reviewer would). Checks, none of which reuse retrain's code:
the parent's numbers equal what its model.json recorded at training time and
what the log says the board answered; the candidate's runtime accuracy is
recomputed through `edgeloop predict`'s library on the written folder; hashes
are recomputed with hashlib; the session split is read back from sqlite.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3

import numpy as np
import pytest

from edgeloop import modelinfo
from edgeloop.log.labels import set_labels
from edgeloop.run.predict import open_target, run
from tests.host.train.test_train_gesture import PARQUET
from tests.tools import field_log
from tests.tools.cli_result import invoke, one_line
from tests.tools.paths import REPO

PARENT = REPO / "models" / "gesture_trees"
SHIFT = np.array([300.0, 0.0, -200.0])
PERMUTED = {"idle": "wave", "wave": "snake", "snake": "updown", "updown": "idle"}
pytestmark = pytest.mark.skipif(not PARQUET.exists(), reason=f"shared test data not found at {PARQUET}")


def field(db, *, devices=("d2",), shift=SHIFT, relabel=None):
    info = modelinfo.load(PARENT)
    for dev in devices:
        rows = field_log.write(db, PARENT, field_log.takes(info.split["train"]), device=dev,
                               shift=(lambda x: x + shift) if shift is not None else None)
        set_labels(db, {rid: (relabel or {}).get(cls, cls) for rid, cls, _ in rows}, source="test")


@pytest.fixture(scope="module")
def promoted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retrain")
    db = tmp / "log.sqlite"
    field(db)
    out = tmp / "gesture-2"
    r = invoke("retrain", "--from", PARENT, "--db", db, "--out", out)
    return db, out, r


def table_line(output: str, set_name: str, runner: str) -> str:
    return next(ln for ln in output.splitlines() if ln.startswith(set_name) and runner in ln)


def test_a_candidate_trained_on_labelled_field_windows_is_promoted_and_better_on_the_field(promoted):
    db, out, r = promoted
    assert r.exit_code == 0, r.output
    assert "PROMOTED" in r.output
    info = modelinfo.load(out)
    rows = {(x["set"], x["runner"]): x for x in info.lineage["revalidation"]["rows"]}
    parent_info = modelinfo.load(PARENT)
    board = parent_info.evaluation["runners"]["board"]
    # the parent on its own held-out takes: what its model.json recorded when it was trained
    assert rows[("parent held-out takes", board)]["parent"] == pytest.approx(parent_info.evaluation["overall"]["board"])
    # the parent on the held-out field sessions: what the board answered, as logged
    con = sqlite3.connect(db)
    sessions = info.split["field"]["sessions"]
    held = con.execute(f"SELECT i.top_class, l.label FROM inferences i JOIN labels l ON l.inference_id = i.id "
                       f"WHERE i.session_id IN ({','.join(map(str, sessions['test']))})").fetchall()
    assert rows[("held-out field sessions", board)]["parent"] == pytest.approx(np.mean([t == lab for t, lab in held]))
    assert rows[("held-out field sessions", board)]["windows"] == len(held)
    # the candidate on the held-out field sessions, recomputed through predict on the written folder
    wins = con.execute(f"SELECT i.window, l.label FROM inferences i JOIN labels l ON l.inference_id = i.id "
                       f"WHERE i.session_id IN ({','.join(map(str, sessions['test']))}) ORDER BY i.id").fetchall()
    x = np.stack([np.frombuffer(w, "<i2").reshape(50, 3) for w, _ in wins])
    pred = run(open_target(out), x).scores.argmax(axis=1)
    acc = np.mean([info.classes[p] == lab for p, (_, lab) in zip(pred, wins)])
    assert rows[("held-out field sessions", board)]["candidate"] == pytest.approx(acc)
    assert acc > rows[("held-out field sessions", board)]["parent"] + 0.05  # better on the field
    assert (rows[("parent held-out takes", board)]["candidate"]
            >= rows[("parent held-out takes", board)]["parent"] - 0.02)  # not worse on the parent's set
    # the printed table says the same
    assert f"{100 * acc:.1f} %" in table_line(r.output, "held-out field sessions", board)


def test_sessions_are_split_whole_and_the_lineage_hashes_are_true(promoted):
    db, out, _ = promoted
    info = modelinfo.load(out)
    s = info.split["field"]["sessions"]
    assert s["test"] and s["train"] and not set(s["test"]) & set(s["train"])
    con = sqlite3.connect(db)
    all_sessions = {r[0] for r in con.execute("SELECT DISTINCT session_id FROM inferences")}
    assert set(s["test"]) | set(s["train"]) == all_sessions
    lin = info.lineage
    parent_file = (PARENT / "gesture_trees.csv").read_bytes()
    assert lin["parent"]["model_hash"] == hashlib.sha256(parent_file).hexdigest()[:16]
    assert lin["parent"]["model_json_sha256"] == hashlib.sha256((PARENT / "model.json").read_bytes()).hexdigest()
    takes = next(d for d in lin["data"] if d["kind"] == "takes")
    assert takes["sha256"] == hashlib.sha256(PARQUET.read_bytes()).hexdigest()
    fd = next(d for d in lin["data"] if d["kind"] == "labelled field windows")
    h = hashlib.sha256()
    for rid, label, blob in con.execute("SELECT i.id, l.label, i.window FROM inferences i JOIN labels l "
                                        "ON l.inference_id = i.id ORDER BY i.id"):
        h.update(f"{rid}\t{label}\n".encode())
        h.update(blob)
    assert fd["sha256"] == h.hexdigest()
    assert lin["seeds"]["training"] == 0 and lin["promoted"] and not lin["forced"]
    assert (out / "training_reference.json").exists() and (out / "MODEL_CARD.md").exists()


def test_a_worse_candidate_is_refused_with_exit_3_and_nothing_written_unless_forced(tmp_path):
    db = tmp_path / "log.sqlite"
    # careless labels: eight copies of the training takes, every class renamed to another one
    field(db, devices=[f"d{i}" for i in range(8)], shift=None, relabel=PERMUTED)
    out = tmp_path / "gesture-2"
    r = invoke("retrain", "--from", PARENT, "--db", db, "--out", out)
    assert r.exit_code == 3
    last = [ln for ln in r.output.splitlines() if ln.strip()][-1]
    assert last.startswith("edgeloop: refused: parent held-out takes") and "--force" in last
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    change = table_line(r.output, "parent held-out takes", "edgeloop evaluator").split()[-1]
    assert float(change) < -2.0  # the change column shows why
    r = invoke("retrain", "--from", PARENT, "--db", db, "--out", out, "--force")
    assert r.exit_code == 0 and "FORCED" in r.output
    lin = modelinfo.load(out).lineage
    assert lin["forced"] and not lin["promoted"] and lin["refused_because"]


def test_no_labels_is_one_line(tmp_path):
    db = tmp_path / "log.sqlite"
    field_log.write(db, PARENT, field_log.takes(modelinfo.load(PARENT).split["test"][:2]))
    out = one_line(invoke("retrain", "--from", PARENT, "--db", db, "--out", tmp_path / "o"))
    assert "no labelled windows" in out and "edgeloop label" in out


@pytest.mark.tf
def test_cnn_parent_is_scored_under_tflm_and_the_runtime_side_by_side(tmp_path):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    cnn = REPO / "models" / "gesture"
    db = tmp_path / "log.sqlite"
    info = modelinfo.load(cnn)
    rows = field_log.write(db, cnn, field_log.takes(info.split["train"]), shift=lambda x: x + SHIFT)
    set_labels(db, {rid: cls for rid, cls, _ in rows}, source="test")
    out = tmp_path / "gesture-2"
    r = invoke("retrain", "--from", cnn, "--db", db, "--out", out, "--epochs", "8", "--force")
    assert r.exit_code == 0, r.output
    lin = modelinfo.load(out).lineage
    got = {(x["set"], x["runner"]): x for x in lin["revalidation"]["rows"]}
    ev = info.evaluation
    held = "parent held-out takes"
    # TFLM and edgeloop's runtime give the parent the accuracies its training recorded
    assert got[(held, ev["runners"]["int8"])]["parent"] == pytest.approx(ev["overall"]["int8"])
    assert got[(held, ev["runners"]["board"])]["parent"] == pytest.approx(ev["overall"]["board"])
    assert got[(held, ev["runners"]["float"])]["parent"] is None  # the parent's Keras model is not kept
    assert all(x["candidate"] is not None for x in lin["revalidation"]["rows"])
    assert lin["promoted"] or lin["forced"]
