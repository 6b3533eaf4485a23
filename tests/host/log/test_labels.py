"""`edgeloop label`: labels in the log (migration 4), set, reviewed, imported and exported.

The log holds real takes of ../shared/data/gestures scored by the shipped
gesture model (tests/tools/field_log.py). Every check reads the result with
an independent reader: sqlite3 for the log, the csv and json modules for the
files, and a Label Studio export written by hand in the shape of Label
Studio's documented JSON export (labelstud.io/guide/task_format).
"""

from __future__ import annotations

import csv
import json
import sqlite3

import numpy as np
import pytest

from edgeloop.log.labels import sparkline
from edgeloop.log.store import SCHEMA_VERSION, Store
from tests.tools import field_log
from tests.tools.cli_result import invoke, one_line
from tests.tools.paths import REPO

MODEL = REPO / "models" / "gesture"
need_data = pytest.mark.skipif(not field_log.PARQUET.exists(), reason=f"shared data not at {field_log.PARQUET}")
TAKES = ["cgestures.parquet:2025-06-15T193712_idle.npy", "cgestures.parquet:2025-06-15T192744_snake.npy"]


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    db = tmp_path_factory.mktemp("labels") / "log.sqlite"
    rows = field_log.write(db, MODEL, field_log.takes(TAKES))
    return db, rows


@pytest.fixture
def log(logged, tmp_path):
    db, rows = logged
    copy = tmp_path / "log.sqlite"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return copy, rows


def labels_in(db) -> dict[int, str]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT inference_id, label FROM labels").fetchall())
    finally:
        con.close()


def export_with_one_label(db, rows, out):
    """Label the first window idle, then export the log to `out`."""
    invoke("label", "--db", db, "--set", f"{rows[0][0]}=idle")
    r = invoke("label", "--db", db, "--export", out)
    assert r.exit_code == 0, r.output
    return r


def test_a_version_2_log_gains_an_empty_labels_table_and_keeps_its_rows(tmp_path):
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    from edgeloop.log.store import MIGRATIONS
    for version, statements in MIGRATIONS:
        if version <= 2:
            for sql in statements:
                con.execute(sql)
    con.execute("INSERT INTO inferences (host_time, top_class) VALUES (1.0, 'idle')")
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    with Store(db) as s:
        assert s.schema_version == SCHEMA_VERSION >= 4
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM labels").fetchone() == (0,)
    assert con.execute("SELECT top_class FROM inferences").fetchall() == [("idle",)]


@need_data
def test_set_and_correct_labels_land_in_the_log(log):
    db, rows = log
    a, b = rows[0][0], rows[-1][0]
    r = invoke("label", "--db", db, "--set", f"{a}=wave", "--set", f"{b}=snake")
    assert r.exit_code == 0, r.output
    assert labels_in(db) == {a: "wave", b: "snake"}
    r = invoke("label", "--db", db, "--set", f"{a}=idle")  # a correction replaces, never duplicates
    assert r.exit_code == 0, r.output
    assert labels_in(db) == {a: "idle", b: "snake"}
    con = sqlite3.connect(db)
    assert con.execute("SELECT source FROM labels WHERE inference_id = ?", (a,)).fetchone() == ("cli",)


@need_data
def test_unknown_class_or_id_is_one_line_and_changes_nothing(log):
    db, rows = log
    a = rows[0][0]
    before = labels_in(db)
    out = one_line(invoke("label", "--db", db, "--set", f"{a}=wave", "--set", f"{a + 1}=jump"))
    assert "'jump'" in out and "idle, snake, updown, wave" in out and "--new-class" in out
    out = one_line(invoke("label", "--db", db, "--set", "999999=wave"))
    assert "999999" in out and f"windows {rows[0][0]}..{rows[-1][0]}" in out
    out = one_line(invoke("label", "--db", db, "--set", "twelve=wave"))
    assert "ID=class" in out or "not a window id" in out
    assert labels_in(db) == before
    r = invoke("label", "--db", db, "--set", f"{a}=jump", "--new-class", "jump")
    assert r.exit_code == 0 and labels_in(db)[a] == "jump"


@need_data
def test_listing_shows_class_score_label_and_a_sparkline_of_the_signal(log):
    db, rows = log
    invoke("label", "--db", db, "--set", f"{rows[1][0]}=snake")
    r = invoke("label", "--db", db, "--limit", "3")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == 4 and lines[0].split()[:3] == ["id", "logged", "(UTC)"]
    con = sqlite3.connect(db)
    top, conf = con.execute("SELECT top_class, confidence FROM inferences WHERE id = ?", (rows[1][0],)).fetchone()
    fields = lines[2].split()
    assert fields[0] == str(rows[1][0]) and fields[4] == top and float(fields[5]) == pytest.approx(conf, abs=0.005)
    assert fields[6] == "snake" and set(fields[7]) <= set("▁▂▃▄▅▆▇█") and len(fields[7]) == 24
    r = invoke("label", "--db", db, "--unlabelled")
    assert str(rows[1][0]) not in [ln.split()[0] for ln in r.output.splitlines()[1:]]


def test_sparkline_against_hand_worked_levels():
    # magnitudes 0, 5 (3-4-5), 10, 2.5 -> eight levels over 0..10: 0, 3.5->4, 7, 1.75->2
    w = np.array([[0, 0], [3, 4], [6, 8], [1.5, 2]])
    assert sparkline(w, width=4) == "▁▅█▃"
    assert sparkline(np.ones((10, 3)), width=5) == "▁▁▁▁▁"  # a flat window
    # 8 frames into 4 columns: the mean of each pair of magnitudes 0,2 | 4,6 | 8,10 | 12,14 = 1, 5, 9, 13
    assert sparkline(np.arange(0, 16, 2).reshape(-1, 1), width=4) == "▁▃▆█"


@need_data
def test_csv_export_is_the_log_and_csv_import_sets_every_row(log, tmp_path):
    db, rows = log
    out = tmp_path / "labels.csv"
    export_with_one_label(db, rows, out)
    with open(out, newline="") as fh:
        got = list(csv.DictReader(fh))
    con = sqlite3.connect(db)
    want = con.execute("SELECT id, top_class, confidence, device_id FROM inferences ORDER BY id").fetchall()
    assert [(int(g["id"]), g["top_class"], float(g["confidence"]), g["device_id"]) for g in got] == want
    assert [g["label"] for g in got] == ["idle"] + [""] * (len(want) - 1)
    # a reviewer fills in the true classes (the takes' known labels) and imports the file
    truth = {rid: cls for rid, cls, _ in rows}
    filled = tmp_path / "filled.csv"
    with open(filled, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        w.writerows(truth.items())
    r = invoke("label", "--db", db, "--import", filled)
    assert r.exit_code == 0, r.output
    assert labels_in(db) == truth


@need_data
def test_a_label_file_with_one_bad_row_changes_nothing(log, tmp_path):
    db, rows = log
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\n" + "".join(f"{rid},{cls}\n" for rid, cls, _ in rows[:5]) + f"{rows[5][0]},jmup\n")
    out = one_line(invoke("label", "--db", db, "--import", bad))
    assert "'jmup'" in out
    assert labels_in(db) == {}


@need_data
def test_label_studio_export_has_the_documented_task_shape_and_the_window(log, tmp_path):
    db, rows = log
    out = tmp_path / "tasks.json"
    r = export_with_one_label(db, rows, out)
    assert '<TimeSeries name="ts" valueType="json" value="$ts"' in r.output
    tasks = json.loads(out.read_text())
    assert len(tasks) == len(rows)
    con = sqlite3.connect(db)
    blob, top = con.execute("SELECT window, top_class FROM inferences WHERE id = ?", (rows[0][0],)).fetchone()
    window = np.frombuffer(blob, "<i2").reshape(-1, 3)
    t = tasks[0]
    assert t["data"]["edgeloop_id"] == rows[0][0]
    assert t["data"]["ts"]["x"] == window[:, 0].tolist() and t["data"]["ts"]["z"] == window[:, 2].tolist()
    assert t["data"]["ts"]["time"][:3] == [0.0, 0.01, 0.02]  # 100 Hz
    assert t["predictions"][0]["result"][0] == {"from_name": "label", "to_name": "ts", "type": "choices",
                                                "value": {"choices": [top]}}
    assert t["annotations"][0]["result"][0]["value"] == {"choices": ["idle"]}
    assert "annotations" not in tasks[1]
    atomic_leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert atomic_leftovers == []


@need_data
def test_label_studio_json_export_is_imported(log, tmp_path):
    """A file shaped like Label Studio's JSON export: ids, timestamps, a cancelled annotation, a task
    nobody labelled, extra result types; only each task's last non-cancelled choice counts."""
    db, rows = log
    a, b, c = rows[0][0], rows[1][0], rows[2][0]
    choice = lambda lab: {"id": "Dx_aB91ISN", "from_name": "label", "to_name": "ts", "type": "choices",
                          "origin": "manual", "value": {"choices": [lab]}}
    export = [
        {"id": 1, "project": 3, "data": {"edgeloop_id": a, "ts": {"time": [0.0]}},
         "annotations": [{"id": 1001, "result": [choice("snake")], "was_cancelled": False,
                          "ground_truth": False, "completed_by": 1, "lead_time": 4.2}],
         "predictions": [{"model_version": "x", "result": [choice("idle")]}]},
        {"id": 2, "project": 3, "data": {"edgeloop_id": b},
         "annotations": [{"id": 1002, "result": [choice("wave")], "was_cancelled": False},
                         {"id": 1003, "result": [choice("updown")], "was_cancelled": True}]},
        {"id": 3, "project": 3, "data": {"edgeloop_id": c}, "annotations": [], "predictions": []},
    ]
    path = tmp_path / "project-3-at-2026-12-06.json"
    path.write_text(json.dumps(export))
    r = invoke("label", "--db", db, "--import", path)
    assert r.exit_code == 0, r.output
    assert labels_in(db) == {a: "snake", b: "wave"}
    # JSON-MIN: flat objects
    mini = tmp_path / "min.json"
    mini.write_text(json.dumps([{"edgeloop_id": c, "label": "updown", "id": 3}]))
    assert invoke("label", "--db", db, "--import", mini).exit_code == 0
    assert labels_in(db)[c] == "updown"
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps([{"id": 1, "data": {"image": "x.jpg"}}]))
    assert "edgeloop_id" in one_line(invoke("label", "--db", db, "--import", bad))


@need_data
def test_interactive_review_saves_each_answer(log):
    from click.testing import CliRunner

    from edgeloop.cli import cli

    db, rows = log
    r = CliRunner().invoke(cli, ["label", "--db", str(db), "--review", "--limit", "3"], input="wave\n\nq\n")
    assert r.exit_code == 0, r.output
    assert labels_in(db) == {rows[0][0]: "wave"}
    con = sqlite3.connect(db)
    assert con.execute("SELECT source FROM labels").fetchall() == [("review",)]
