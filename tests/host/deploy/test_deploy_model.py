"""The loop from the commands alone, on the virtual board: `deploy --model DIR`, then `monitor` / `record`.

What the board got is read back from its filesystem (the virtual board's flash is a host
folder), and compared with what the board profile's TOML and the model's model.json say,
read here with tomllib/json, not through edgeloop. Every inference logged is compared
with an independent reference: TFLM on the logged window (CNN), emlearn's C (the model
card's `int8` column, computed at training time by gcc-compiled emlearn) for the trees.
Every refusal leaves the board's previous model and config byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.link.device import Device
from edgeloop.sim import replay
from tests.tools.gesture_reference import Tflm
from tests.tools.paths import REPO, SHARED_DATA

pytestmark = [pytest.mark.sim, pytest.mark.slow]

MODELS = REPO / "models"
GESTURES = SHARED_DATA / "gestures" / "cgestures.parquet"
HELD_OUT_WAVE = "2025-06-15T192914_wave.npy"  # in both gesture models' split.test


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def on_board(vb, remote: str) -> Path:
    return Path(vb.flash_dir) / remote.lstrip("/")


def digest(vb, *remotes: str) -> dict[str, str]:
    return {r: hashlib.sha256(on_board(vb, r).read_bytes()).hexdigest() for r in remotes}


def push_take(vb, take: str = HELD_OUT_WAVE) -> np.ndarray:
    """Put one held-out take on the board as /replay.bin; returns its int16 mg frames."""
    if not GESTURES.exists():
        pytest.skip(f"{GESTURES} is not here (../shared/data)")
    rep = replay.load(GESTURES, take=take)
    with Device(vb.port, timeout=30) as dev:
        replay.push(rep, dev)
    return rep.data


def expected_config(board: str, model: str, sensor: dict | None = None) -> dict:
    """/edgeloop.json as the profile's TOML and the model folder's model.json state it."""
    info = json.loads((MODELS / model / "model.json").read_text())
    if sensor is None:
        toml = tomllib.loads((REPO / "boards" / f"{board}.toml").read_text())
        entry = next(s for s in toml["sensors"] if s["kind"] == info["sensor"]["kind"])
        sensor = {k: entry[k] for k in ("kind", "part", "bus", "pins", "address") if k in entry}
        sensor["rate"] = int(info["rate_hz"])
    cfg = {"sensor": sensor, "window": info["window"], "hop": info["hop"],
           "model": f"/models/{info['model']['file']}", "classes": info["classes"], "board": board,
           "device_id": "", "autostart": False}
    if info.get("kws"):
        cfg["kws"] = info["kws"]
    return cfg


def test_plain_deploy_writes_the_profiles_sensor_and_the_models_settings(virtual_board):
    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture")
    assert code == 0, out
    assert json.loads(on_board(vb, "/edgeloop.json").read_text()) == expected_config("rp2040", "gesture")
    assert on_board(vb, "/models/gesture.elm").read_bytes() == (MODELS / "gesture" / "gesture.elm").read_bytes()
    assert "/edgeloop.json: imu MPU-6050 on i2c0 at 100 Hz" in out
    # a model file inside its folder is the folder; --autostart lands in the config main.py reads
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture_trees" / "gesture_trees.csv", "--autostart")
    assert code == 0, out
    want = expected_config("rp2040", "gesture_trees")
    want["autostart"] = True
    assert json.loads(on_board(vb, "/edgeloop.json").read_text()) == want


def logged(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT window_index, top, scores, model_hash, window FROM inferences ORDER BY id").fetchall()
    finally:
        con.close()


def test_cnn_deploy_then_monitor_logs_what_tflm_computes(virtual_board, tmp_path):
    pytest.importorskip("tflite_micro")
    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture", "--sensor", "replay")
    assert code == 0, out
    assert json.loads(on_board(vb, "/edgeloop.json").read_text()) == \
        expected_config("rp2040", "gesture", {"kind": "replay", "file": "/replay.bin"})
    push_take(vb)
    db = tmp_path / "log.sqlite"
    code, out = run("monitor", "-p", vb.port, "--seconds", 4, "--window", "--db", db)
    assert code == 0, out
    rows = logged(db)
    assert len(rows) >= 8, out  # a window every 0.25 s after the first 0.5 s
    ref = Tflm(MODELS / "gesture")
    for k, top, scores, _hash, blob in rows:
        ref.check_row(np.frombuffer(blob, "<i2").reshape(ref.info.window, -1), top, scores)


def test_trees_deploy_then_monitor_votes_as_emlearns_c(virtual_board, tmp_path):
    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture_trees", "--sensor", "replay")
    assert code == 0, out
    frames = push_take(vb)
    db = tmp_path / "log.sqlite"
    code, out = run("monitor", "-p", vb.port, "--seconds", 5, "--window", "--db", db)
    assert code == 0, out
    info = json.loads((MODELS / "gesture_trees" / "model.json").read_text())
    ev = info["evaluation"]
    assert ev["runners"]["int8"] == "emlearn C (int16)"
    # the card's held-out windows of this take, in order: window k of the replay is the card's k-th
    card = [p for t, p in zip(ev["takes"], ev["predictions"]["int8"]) if t.endswith(":" + HELD_OUT_WAVE)]
    rows = [r for r in logged(db) if r[0] <= len(card)]  # later windows wrap around the looping take
    assert len(rows) >= 12, out
    csv = (MODELS / "gesture_trees" / "gesture_trees.csv").read_bytes()
    trees = sum(1 for ln in csv.decode().splitlines() if ln.startswith("r,"))
    for k, top, scores, model_hash, blob in rows:
        window = np.frombuffer(blob, "<i2").reshape(-1, 3)
        assert np.array_equal(window, frames[(k - 1) * 25:(k - 1) * 25 + 50]), k  # the take, as replayed
        assert top == card[k - 1], (k, top, card[k - 1])
        votes = [round(s * trees) for s in json.loads(scores)]  # vote shares in Q0.16
        assert sum(votes) == trees and votes.index(max(votes)) == top
        assert model_hash == hashlib.sha256(csv).hexdigest()[:16]


@pytest.fixture
def deployed(virtual_board):
    """A board running the gesture model with its config: what every refusal must leave alone."""
    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture")
    assert code == 0, out
    before = digest(vb, "/edgeloop.json", "/models/gesture.elm")
    yield vb
    assert digest(vb, "/edgeloop.json", "/models/gesture.elm") == before
    assert not on_board(vb, "/models/gesture_trees.csv").exists()


def model_copy(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    shutil.copytree(MODELS / name, d)
    return d


def edit_info(folder: Path, **changes) -> None:
    raw = json.loads((folder / "model.json").read_text())
    raw.update(changes)
    (folder / "model.json").write_text(json.dumps(raw))


def test_a_model_at_a_rate_the_boards_sensor_cannot_give_is_refused(deployed, tmp_path):
    folder = model_copy(tmp_path, "gesture")
    edit_info(folder, rate_hz=2000.0)  # the MPU-6050 samples at 4..1000 Hz
    code, out = run("deploy", "-p", deployed.port, "--model", folder)
    assert code != 0
    assert "2000 Hz" in one_line(out) and "MPU-6050 runs at 4..1000 Hz" in out


def test_a_sensor_of_another_kind_is_refused(deployed, tmp_path):
    code, out = run("deploy", "-p", deployed.port, "--model", MODELS / "gesture", "--sensor", "INMP441")
    assert code != 0
    assert "reads 3 channel(s) of an imu" in one_line(out) and "microphone" in out
    folder = model_copy(tmp_path, "keyword")
    edit_info(folder, sensor={"kind": "microphone", "channels": 2})  # stereo: the INMP441 gives one
    code, out = run("deploy", "-p", deployed.port, "--model", folder)
    assert code != 0 and "a microphone gives 1 channel" in one_line(out)


def test_a_truncated_model_file_is_refused_before_anything_moves(deployed, tmp_path):
    folder = model_copy(tmp_path, "gesture")
    elm = folder / "gesture.elm"
    elm.write_bytes(elm.read_bytes()[:-100])
    code, out = run("deploy", "-p", deployed.port, "--model", folder)
    assert code != 0
    assert "is not a valid edgeloop model" in one_line(out) and "truncated" in out
    code, out = run("deploy", "-p", deployed.port, "--model", elm)  # the file alone: the same check
    assert code != 0 and "truncated" in one_line(out)


def test_a_broken_tree_model_is_refused(deployed, tmp_path):
    folder = model_copy(tmp_path, "gesture_trees")
    csv = folder / "gesture_trees.csv"
    csv.write_text(csv.read_text().replace("n,", "n,x", 1))
    code, out = run("deploy", "-p", deployed.port, "--model", folder)
    assert code != 0 and "is not a valid tree model" in one_line(out)


def test_a_model_that_does_not_fit_the_heap_is_refused(deployed, tmp_path):
    """A valid forest of 30,000 nodes: 7 bytes each on the heap is more than the rp2040's 192,000."""
    folder = model_copy(tmp_path, "gesture_trees")
    n = 30000
    lines = ["f,17", "c,4", "lb,0", "l,0", "l,3", "r,0"]
    lines += [f"n,{i % 17},{i - 15000},-1,1" for i in range(n - 1)] + [f"n,0,0,-1,-2"]
    (folder / "gesture_trees.csv").write_text("\n".join(lines) + "\n")
    code, out = run("deploy", "-p", deployed.port, "--model", folder)
    assert code != 0
    line = one_line(out)
    assert "bytes of heap" in line and "192000" in line


def test_monitor_and_record_print_the_boards_error_when_the_app_cannot_start(virtual_board, tmp_path):
    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture", "--sensor", "replay")
    assert code == 0, out  # no /replay.bin on this board: the app's sensor cannot open
    for args in (("monitor", "--seconds", 2, "--db", tmp_path / "l.sqlite"),
                 ("record", "--seconds", 1, "--label", "wave", "--out", tmp_path / "ds")):
        code, out = run(*args, "-p", vb.port)
        assert code != 0
        line = one_line(out)
        assert "did not start: SensorError: replay file /replay.bin is not on the board" in line, line
        assert "edgeloop deploy --model DIR --sensor" in line
    assert not list(tmp_path.glob("ds/*.csv")), "a failed take must not leave a file"


def test_a_one_second_record_gets_a_whole_second_of_samples(virtual_board, tmp_path):
    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture", "--sensor", "replay")
    assert code == 0, out
    frames = push_take(vb)
    for take in range(2):
        code, out = run("record", "-p", vb.port, "--seconds", 1, "--label", "wave", "--out", tmp_path / "ds")
        assert code == 0, out
    for csv_path in sorted((tmp_path / "ds").glob("wave.*.csv")):
        rows = np.loadtxt(csv_path, delimiter=",", skiprows=1)
        assert len(rows) >= 90, f"{csv_path.name}: {len(rows)} samples for 1 s at 100 Hz"
        np.testing.assert_array_equal(rows[:, 1:].astype(int), frames[:len(rows)])  # from the take's start
    # the app's imports are gone with it (soft reset): the next deploy has the board's whole heap
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture_trees", "--sensor", "replay")
    assert code == 0, out


@pytest.mark.parametrize("autostart", [True, False])
def test_autostart_decides_whether_the_app_streams_at_power_up(virtual_board, autostart):
    """--autostart: after a hard reset the board streams frames with nobody asking; without it,
    the board waits at its REPL (the host starts the app)."""
    import time

    import serial
    from edgeloop_fw import protocol as P

    from edgeloop.stream.reader import FrameReader

    vb = virtual_board
    code, out = run("deploy", "-p", vb.port, "--model", MODELS / "gesture", "--sensor", "replay",
                    *(["--autostart"] if autostart else []))
    assert code == 0, out
    push_take(vb)
    with serial.Serial(vb.port, timeout=0.2) as port:
        vb.restart()  # power-up: boot.py, then main.py
        reader, frames, t0 = FrameReader(), [], time.monotonic()
        while time.monotonic() - t0 < 20 and not any(f.msg_type == P.MSG_INFERENCE for f in frames):
            frames += reader.feed(port.read(4096))
    kinds = {f.msg_type for f in frames}
    if autostart:
        assert {P.MSG_HELLO, P.MSG_INFERENCE} <= kinds, kinds
    else:
        assert not kinds, kinds
