"""/edgeloop.json's one writer, without a board: every profile's sensor entry, every shipped model.

The expected configs are read from the TOML files and model.json with tomllib/json, and
the rates each IMU can give from the parts' datasheet figures, not from edgeloop.
"""

from __future__ import annotations

import json
import tomllib

import pytest

from edgeloop import modelinfo as MI
from edgeloop.boards import profiles
from edgeloop.deploy import board_config as BC
from edgeloop.errors import DeployError
from tests.tools.paths import REPO

MODELS = REPO / "models"
# Output data rates from the datasheets: MPU-6050 (register map rev 4.2, SMPLRT_DIV with DLPF on: 1 kHz / 1..256),
# LSM6DSOX (DS12814 table 52: 12.5..6660 Hz), ICM-42670-P (DS-000451: 12.5..1600 Hz, low-noise mode).
DATASHEET_MAX_HZ = {"MPU-6050": 1000, "LSM6DSOX": 6660, "ICM-42670": 1600, "ICM-42670-P": 1600}


def toml_sensor(board: str, kind: str) -> dict:
    entry = next(s for s in tomllib.loads((REPO / "boards" / f"{board}.toml").read_text())["sensors"]
                 if s["kind"] == kind)
    return {k: entry[k] for k in ("kind", "part", "bus", "pins", "address") if k in entry}


@pytest.mark.parametrize("board", profiles.names())
@pytest.mark.parametrize("model", ["gesture", "gesture_trees", "keyword"])
def test_config_is_the_profiles_sensor_and_the_models_settings(board, model):
    info = MI.load(MODELS / model)
    raw = json.loads((MODELS / model / "model.json").read_text())
    cfg = BC.board_config(profiles.load(board), info, f"/models/{raw['model']['file']}")
    want_sensor = toml_sensor(board, raw["sensor"]["kind"])
    want_sensor["rate"] = int(raw["rate_hz"])
    assert cfg["sensor"] == want_sensor
    assert (cfg["window"], cfg["hop"], cfg["classes"], cfg["board"], cfg["autostart"]) == \
        (raw["window"], raw["hop"], raw["classes"], board, False)
    assert cfg.get("kws") == raw.get("kws")
    assert json.loads(BC.config_file(cfg).data) == cfg


@pytest.mark.parametrize("board", [b for b in profiles.names() if profiles.load(b).sensor("imu")])
def test_imu_rates_follow_the_datasheets(board):
    info = MI.load(MODELS / "gesture")
    part = profiles.load(board).sensor("imu").part
    top = DATASHEET_MAX_HZ[part]
    info.rate_hz = float(top)
    assert BC.board_config(profiles.load(board), info, "/models/gesture.elm")["sensor"]["rate"] == top
    info.rate_hz = float(top + 1)
    with pytest.raises(DeployError, match=f"{part} runs at"):
        BC.board_config(profiles.load(board), info, "/models/gesture.elm")


def test_a_six_channel_model_turns_the_gyroscope_on():
    info = MI.load(MODELS / "gesture")
    info.sensor = {"kind": "imu", "channels": 6}
    assert BC.board_config(profiles.load("rp2040"), info, "/m.elm")["sensor"]["gyro_dps"] == 2000


def test_the_demo_replay_is_an_override_of_the_same_config():
    info = MI.load(MODELS / "keyword")
    cfg = BC.board_config(profiles.load("rp2040"), info, "/models/keyword.elm",
                          sensor={"kind": "replay", "file": BC.REPLAY}, device_id="edgeloop-demo",
                          kws=dict(info.kws, every=2))
    assert cfg["sensor"] == {"kind": "replay", "file": "/replay.bin"} and cfg["kws"]["every"] == 2
    assert cfg["model"] == "/models/keyword.elm" and cfg["device_id"] == "edgeloop-demo"


def test_sensor_choices_and_model_sources():
    info = MI.load(MODELS / "gesture")
    rp = profiles.load("rp2040")
    assert BC.board_config(rp, info, "/m", sensor="imu")["sensor"]["part"] == "MPU-6050"
    assert BC.board_config(rp, info, "/m", sensor="mpu-6050")["sensor"]["part"] == "MPU-6050"
    with pytest.raises(DeployError, match="has no sensor 'BMI270'.*MPU-6050 \\(imu\\), INMP441 \\(microphone\\)"):
        BC.board_config(rp, info, "/m", sensor="BMI270")
    assert BC.resolve_model(MODELS / "gesture").info.model["file"] == "gesture.elm"
    assert BC.resolve_model(MODELS / "gesture" / "gesture.elm").info is not None  # the file in its folder
    with pytest.raises(DeployError, match="needs a model folder"):
        BC.model_deploy([], rp, autostart=True)


# -- capture rules: model.json's section, overridden key by key by the deploy flags ------------------------
NO_FLAGS = {"below": None, "margin": None, "classes": (), "random": None, "seed": None, "per_minute": None,
            "ring_bytes": None}


def with_capture(section):
    raw = json.loads((MODELS / "gesture" / "model.json").read_text())
    raw["capture"] = section
    return MI.from_json(raw)


def test_capture_comes_from_model_json_and_flags_override_it():
    rp = profiles.load("rp2040")
    info = with_capture({"below": 0.5, "classes": ["wave"], "per_minute": 10})
    assert BC.board_config(rp, info, "/m")["capture"] == {"below": 0.5, "classes": ["wave"], "per_minute": 10}
    flags = dict(NO_FLAGS, below=0.7, classes=("idle", "snake"), random=0.1, ring_bytes=8192)
    assert BC.board_config(rp, info, "/m", capture=flags)["capture"] == {
        "below": 0.7, "classes": ["idle", "snake"], "per_minute": 10, "random": 0.1, "ring_bytes": 8192}
    plain = MI.load(MODELS / "gesture")
    assert "capture" not in BC.board_config(rp, plain, "/m", capture=NO_FLAGS)
    assert BC.board_config(rp, plain, "/m", capture=dict(NO_FLAGS, margin=0.2))["capture"] == {"margin": 0.2}


@pytest.mark.parametrize("flags, words", [
    ({"classes": ("jump",)}, "'jump' is not one of the model's classes (idle, snake, updown, wave)"),
    ({"seed": 4}, "capture keeps nothing"),
    ({"per_minute": 5}, "capture keeps nothing"),
])
def test_capture_flags_that_cannot_work_are_refused_in_one_line(flags, words):
    with pytest.raises(DeployError) as e:
        BC.board_config(profiles.load("rp2040"), MI.load(MODELS / "gesture"), "/m", capture=dict(NO_FLAGS, **flags))
    assert words in str(e.value) and "\n" not in str(e.value) and "nothing was sent" in str(e.value)


def test_capture_for_keyword_models_is_configured_and_refused_for_files_without_model_json():
    kw = MI.load(MODELS / "keyword")
    cfg = BC.board_config(profiles.load("rp2040"), kw, "/m", capture=dict(NO_FLAGS, below=0.5, classes=("yes",)),
                          kws={"every": 2})
    assert cfg["capture"] == {"below": 0.5, "classes": ["yes"]} and cfg["kws"] == {"every": 2}
    with pytest.raises(DeployError, match="'maybe' is not one of the model's classes"):
        BC.board_config(profiles.load("rp2040"), kw, "/m", capture=dict(NO_FLAGS, classes=("maybe",)))
    with pytest.raises(DeployError, match="needs a model folder"):
        BC.model_deploy([], profiles.load("rp2040"), capture=dict(NO_FLAGS, below=0.5))


def test_model_json_with_a_bad_capture_section_is_refused_at_load():
    with pytest.raises(MI.ModelInfoError, match="capture below 1.5 is not a score"):
        with_capture({"below": 1.5})


def test_deploy_refuses_bad_capture_flags_before_touching_the_port():
    from click.testing import CliRunner

    from edgeloop.cli import cli

    r = CliRunner().invoke(cli, ["deploy", "--port", "/dev/null", "--model", str(MODELS / "gesture"),
                                 "--keep-class", "jump"])
    assert r.exit_code == 1 and "'jump' is not one of the model's classes" in r.output
    assert "/dev/null" not in r.output and "Traceback" not in r.output
