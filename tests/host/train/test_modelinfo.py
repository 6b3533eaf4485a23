"""model.json's one reader: today's files round-trip, the two unversioned shapes migrate, newer ones are refused.

fixtures/*_schema0.json are the shipped model.json files as they were before
the schema was versioned (gesture CNN, gesture trees, keyword).
"""

import json
from pathlib import Path

import pytest

from edgeloop import modelinfo as MI
from edgeloop.demo.data import DemoDataError, read_model_info

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = Path(__file__).resolve().parents[3] / "models"
OLD = {"gesture": "gesture_schema0.json", "gesture_trees": "gesture_trees_schema0.json",
       "keyword": "keyword_schema0.json"}


@pytest.mark.parametrize("name", sorted(OLD))
def test_shipped_files_are_current_and_written_by_the_writer(name):
    text = (MODELS / name / "model.json").read_text()
    info = MI.load(MODELS / name)
    assert info.schema == MI.SCHEMA and json.loads(text)["schema"] == MI.SCHEMA
    assert MI.dumps(info) == text


@pytest.mark.parametrize("name", sorted(OLD))
def test_unversioned_files_migrate_to_the_same_facts_plus_schema(name):
    old = json.loads((FIXTURES / OLD[name]).read_text())
    assert "schema" not in old
    new = MI.load(FIXTURES / OLD[name]).to_json()
    added = {k: new[k] for k in set(new) - set(old)}
    assert {k: new[k] for k in old} == old
    sensor = {"kind": "microphone", "channels": 1} if old["task"] == "keyword" else {"kind": "imu", "channels": 3}
    assert added == ({"schema": MI.SCHEMA, "kind": "cnn", "sensor": sensor} if old["task"] == "keyword"
                     else {"schema": MI.SCHEMA, "sensor": sensor})


def test_schema_1_gets_the_sensor_its_units_say(tmp_path):
    """Schema 1 files (no sensor section) migrate: gyroscope units make a 6-channel IMU model."""
    raw = json.loads((MODELS / "gesture" / "model.json").read_text())
    raw["schema"] = 1
    del raw["sensor"]
    raw["channels"] = ["ax", "ay", "az", "gx", "gy", "gz"]
    raw["units"] = ["mg"] * 3 + ["ddps"] * 3
    raw["source_units"] = ["g"] * 3 + ["dps"] * 3
    info = MI.load(_write(tmp_path, raw))
    assert info.schema == MI.SCHEMA and info.sensor == {"kind": "imu", "channels": 6}


def test_both_shapes_answer_the_same_questions():
    gesture, keyword = MI.load(FIXTURES / OLD["gesture"]), MI.load(FIXTURES / OLD["keyword"])
    assert (gesture.task, gesture.kind, gesture.window, gesture.hop) == ("gesture", "cnn", 50, 25)
    assert (keyword.task, keyword.kind, keyword.window, keyword.hop) == ("keyword", "cnn", 480, 320)
    assert gesture.board_accuracy() == ("edgeloop runtime", gesture.evaluation["per_class"]["board"],
                                        gesture.evaluation["overall"]["board"])
    name, per_class, overall = keyword.board_accuracy()
    assert per_class == {"silence": 1.0, "yes": 1.0, "no": 0.0} and overall == 0.75


def _write(tmp_path, content) -> Path:
    path = tmp_path / "model.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _one_line_error(path, match, **kw) -> str:
    with pytest.raises(MI.ModelInfoError, match=match) as e:
        MI.load(path, **kw)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_a_newer_schema_is_refused_in_one_line(tmp_path):
    raw = json.loads((MODELS / "gesture" / "model.json").read_text())
    raw["schema"] = MI.SCHEMA + 1
    msg = _one_line_error(_write(tmp_path, raw), "newer than this edgeloop reads")
    assert f"schema {MI.SCHEMA + 1}" in msg and "upgrade edgeloop" in msg


@pytest.mark.parametrize("change, match", [
    ({"schema": "one"}, "schema should be a whole number"),
    ({"schema": -1}, "schema should be a whole number"),
    ({"window": 0}, "window should be a whole number of frames"),
    ({"classes": "idle"}, "classes should be a list of class names"),
    ({"task": "vision"}, "task 'vision' is not one of gesture, keyword"),
    ({"colour": "red"}, "unknown field colour"),
    ({"model": {"bytes": 3}}, r"model.file .* is missing"),
    ({"sensor": {"kind": "camera", "channels": 1}}, "sensor should be"),
    ({"sensor": {"kind": "imu", "channels": 0}}, "sensor should be"),
])
def test_bad_files_give_one_clear_line(tmp_path, change, match):
    raw = json.loads((MODELS / "gesture" / "model.json").read_text())
    raw.update(change)
    _one_line_error(_write(tmp_path, raw), match)


def test_missing_fields_not_json_and_wrong_task(tmp_path):
    raw = json.loads((FIXTURES / OLD["keyword"]).read_text())
    del raw["hop"], raw["evaluation"]
    _one_line_error(_write(tmp_path, raw), "missing hop, evaluation")
    _one_line_error(_write(tmp_path, "{nope"), r"is not readable JSON .*edgeloop train keyword", task="keyword")
    _one_line_error(tmp_path / "absent", "does not exist")
    _one_line_error(MODELS / "keyword", "describes a keyword model, not a gesture model", task="gesture")


def test_the_writer_refuses_what_the_reader_would(tmp_path):
    info = MI.load(MODELS / "gesture_trees")
    info.hop = 0
    with pytest.raises(MI.ModelInfoError, match="hop should be"):
        MI.save(info, tmp_path)
    assert not (tmp_path / "model.json").exists()


def test_the_demo_reports_a_newer_schema_as_its_own_error(tmp_path):
    raw = json.loads((MODELS / "keyword" / "model.json").read_text())
    raw["schema"] = 99
    _write(tmp_path, raw)
    with pytest.raises(DemoDataError, match="schema 99, newer than this edgeloop reads"):
        read_model_info(tmp_path, "keyword")
