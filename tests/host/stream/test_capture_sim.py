"""Capture rules end to end on the virtual board, through the CLI: `deploy --keep-*`, a held-out
wave take replayed, `monitor --db`; the board with no host (its flash ring), then a host; the
board killed while it writes its ring.

References: the windows the rules select are recomputed with numpy
(tests/tools/capture_reference.py) from the scores and device times the host logged for every
inference; the ring file is read straight off the board's flash folder with struct +
binascii.crc_hqx, not with the firmware's Ring.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from edgeloop_fw import capture as C
from edgeloop_fw import protocol as P
from tests.host.deploy.test_deploy_model import push_take, run
from tests.tools.capture_reference import ring_records, selection
from tests.tools.paths import REPO

pytestmark = [pytest.mark.sim, pytest.mark.slow]

GESTURE = REPO / "models" / "gesture"
CLASSES = json.loads((GESTURE / "model.json").read_text())["classes"]
SPEC = {"below": 0.6, "margin": 0.4, "classes": ["snake"], "random": 0.25, "seed": 5, "per_minute": 25}
FLAGS = ["--keep-below", "0.6", "--keep-margin", "0.4", "--keep-class", "snake", "--keep-random", "0.25",
         "--keep-seed", "5", "--keep-per-minute", "25"]
TAKE = "2025-06-15T192839_updown.npy"  # held out; the model is sure of some windows, torn on others


def deploy(vb, *extra):
    code, out = run("deploy", "-p", vb.port, "--model", GESTURE, "--sensor", "replay", *FLAGS, *extra)
    assert code == 0, out
    cfg = json.loads((Path(vb.flash_dir) / "edgeloop.json").read_text())
    assert {k: v for k, v in cfg["capture"].items() if k != "ring_bytes"} == SPEC
    push_take(vb, TAKE)
    return cfg


def q16(scores_json: str) -> list[int]:
    return [int(round(p * 65535)) for p in json.loads(scores_json)]


def ring_on_flash(vb) -> dict[int, dict]:
    """Whole records in the board's ring file: {record: fields}; torn or freed slots are not records."""
    path = Path(vb.flash_dir) / C.RING_FILE.lstrip("/")
    if not path.exists():
        return {}
    return ring_records(path.read_bytes(), slot_size())


def slot_size() -> int:
    """The app's frame buffer for a 50-frame 3-channel window: header + payload limit + CRC (app.py)."""
    return P.HEADER_SIZE + max(2 * 3 * 50 + 160, 256) + P.CRC_SIZE


def kept_rows(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT k.*, i.scores AS i_scores, i.top AS i_top, i.window AS i_window, "
                           "i.device_ms AS i_ms, i.window_index AS i_index, s.model_hash AS s_hash, "
                           "s.firmware AS s_firmware, s.board AS s_board, s.device_id AS s_device "
                           "FROM kept k JOIN inferences i ON i.id = k.inference_id "
                           "JOIN sessions s ON s.id = k.session_id ORDER BY k.id").fetchall()
    finally:
        con.close()


def check_provenance(rows):
    for r in rows:
        assert (r["model_hash"], r["firmware"], r["board"], r["device_id"]) == \
            (r["s_hash"], r["s_firmware"], "rp2040", r["s_device"])
        assert r["model_hash"] and r["firmware"].startswith("edgeloop_fw ")
        assert (r["window_index"], r["device_ms"]) == (r["i_index"], r["i_ms"])


def test_monitor_logs_exactly_the_windows_the_rules_select(virtual_board, tmp_path):
    vb = virtual_board
    deploy(vb, "--device-id", "bench-7")
    db = tmp_path / "log.sqlite"
    code, out = run("monitor", "-p", vb.port, "--seconds", 15, "--window", "--db", db)
    assert code == 0, out
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1, out
    inf = con.execute("SELECT window_index, device_ms, scores, window FROM inferences WHERE seq IS NOT NULL "
                      "ORDER BY id").fetchall()
    assert len(inf) >= 40, out
    scores = np.array([q16(r[2]) for r in inf])
    want = selection(scores, SPEC, CLASSES, times=np.array([r[1] for r in inf]), window_index=[r[0] for r in inf])
    rows = kept_rows(db)
    got = sorted((r["window_index"], r["rule"]) for r in rows)
    assert got == [(r[0], P.RULE_NAMES[int(k)]) for r, k in zip(inf, want) if k], out
    uncapped = selection(scores, dict(SPEC, per_minute=0), CLASSES, window_index=[r[0] for r in inf])
    assert (uncapped > 0).sum() > (want > 0).sum() == SPEC["per_minute"]  # the cap turned some away
    assert len({r["rule"] for r in rows}) >= 3, [r["rule"] for r in rows]
    check_provenance(rows)
    assert {r["device_id"] for r in rows} == {"bench-7"}  # deploy --device-id names the board in the log
    for r in rows:  # the kept window is the one the inference was made on
        assert r["window"] == r["i_window"] and r["window_channels"] == 3
    assert "kept windows" in out


def test_with_no_host_kept_windows_wait_in_the_ring_and_ship_when_one_connects(virtual_board, tmp_path):
    vb = virtual_board
    deploy(vb, "--autostart", "--keep-ring-kb", "8")
    vb.restart()  # power-up: main.py starts the app; nobody reads the port, nobody pings
    time.sleep(12)
    before = ring_on_flash(vb)
    assert len(before) >= 5, sorted(before)
    db = tmp_path / "log.sqlite"
    code, out = run("monitor", "-p", vb.port, "--seconds", 8, "--db", db)
    assert code == 0, out
    rows = kept_rows(db)
    ring = [r for r in rows if r["source"] == "ring"]
    shipped = {r["record"]: r for r in ring}
    assert set(before) <= set(shipped), (sorted(before), sorted(shipped))  # all of them, none lost
    assert [r["record"] for r in ring] == sorted(shipped)  # oldest first, each once
    for rec, f in before.items():
        r = shipped[rec]
        assert (r["window_index"], r["device_ms"], P.RULE_NAMES[f["rule"]]) == (f["window_index"], f["t_ms"], r["rule"])
        assert np.frombuffer(r["window"], "<i2").tolist() == f["window"]
        assert q16(r["i_scores"]) == f["scores"]
    # each shipped window is one its own scores select, under the rule it names (the cap only removes)
    scores = np.array([q16(r["i_scores"]) for r in ring])
    rule = selection(scores, dict(SPEC, per_minute=0), CLASSES, window_index=[r["window_index"] for r in ring])
    assert [P.RULE_NAMES[int(k)] for k in rule] == [r["rule"] for r in ring]
    check_provenance(ring)
    assert ring_on_flash(vb) == {}  # shipped, then freed


def test_the_ring_survives_killing_the_board_mid_write(virtual_board_factory, tmp_path):
    """Every window kept, no host: the board writes its ring 4 times a second and is SIGKILLed at
    random moments, four times; one slot is then torn by hand (half a newer record over it, as a
    power cut mid-program leaves flash). Each time the board comes back, a host connects: it gets
    exactly the whole records the file holds, no torn one."""
    flash = tmp_path / "flash"
    flash.mkdir()
    board = {"vb": virtual_board_factory(flash_dir=flash)}
    code, out = run("deploy", "-p", board["vb"].port, "--model", GESTURE, "--sensor", "replay", "--autostart",
                    "--keep-class", "idle", "--keep-class", "snake", "--keep-class", "updown", "--keep-class", "wave",
                    "--keep-ring-kb", "8")
    assert code == 0, out
    push_take(board["vb"], TAKE)
    rng = np.random.default_rng(15)
    board["vb"].restart()
    for _ in range(4):
        time.sleep(float(rng.uniform(4.0, 7.0)))
        os.kill(board["vb"].pid, signal.SIGKILL)  # power cut, mid-write or between writes
        time.sleep(0.5)
        board["vb"] = virtual_board_factory(flash_dir=flash)  # power back: main.py autostarts again
    time.sleep(5)
    os.kill(board["vb"].pid, signal.SIGKILL)
    time.sleep(0.5)
    path = flash / C.RING_FILE.lstrip("/")
    data = bytearray(path.read_bytes())
    whole = ring_on_flash(SimpleFlash(flash))
    assert len(whole) >= 10, sorted(whole)
    slot = slot_size()
    victim, donor = sorted(whole)[0], sorted(whole)[-1]
    at = next(o for o in range(0, len(data), slot) if struct.unpack_from("<I", data, o + 4)[0] == victim)
    src = next(o for o in range(0, len(data), slot) if struct.unpack_from("<I", data, o + 4)[0] == donor)
    data[at:at + slot // 2] = data[src:src + slot // 2]  # half a newer record over the oldest
    path.write_bytes(bytes(data))
    on_file = ring_on_flash(SimpleFlash(flash))
    assert set(on_file) == set(whole) - {victim}

    vb = virtual_board_factory(flash_dir=flash)
    db = tmp_path / "log.sqlite"
    code, out = run("monitor", "-p", vb.port, "--seconds", 6, "--db", db)
    assert code == 0, out
    ring = [r for r in kept_rows(db) if r["source"] == "ring"]
    assert [r["record"] for r in ring] == sorted(on_file)  # the whole ones, oldest first, and nothing else
    for r in ring:
        f = on_file[r["record"]]
        assert (r["window_index"], r["device_ms"]) == (f["window_index"], f["t_ms"])
        assert np.frombuffer(r["window"], "<i2").tolist() == f["window"]


class SimpleFlash:
    """Just a flash folder, for ring_on_flash on a board that is not running."""

    def __init__(self, flash_dir):
        self.flash_dir = flash_dir
