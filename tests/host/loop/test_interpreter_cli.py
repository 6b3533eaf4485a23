"""`edgeloop sim --interpreter` → `deploy --model` → `monitor` / `record`, with the commands alone (issue 20).

Each step is `python -m edgeloop.cli ...` in its own process, as a user types it, on a
virtual board run by a real unix interpreter: the PyPI MicroPython the venv installs (no
environment variable: CI runs it) and the CircuitPython build EDGELOOP_CIRCUITPYTHON names
(skipped when unset). On CircuitPython the deploy installs Adafruit's asyncio and resets the
board so boot.py enables usb_cdc.data, and the frames come over that second port.

What the board streamed is checked against references that are not the code under test: the
replay take's frames read here from the file the board replays (numpy, at the format's header
size), every logged window and every recorded sample equal to them, byte for byte (a console
that turned \\n into \\r\\n would break that, or the frame checksums: the monitor counts 0
corrupt), and each logged inference against TFLM on its window (tests.tools.gesture_reference).
Counts are the board's work (`monitor --count N`), never host time.
"""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pytest

from edgeloop_fw.sensors.replay_format import HEADER_SIZE
from tests.tools import cli_process as cli
from tests.tools.paths import REPO, SHARED_DATA
from tests.tools.unix_board import CIRCUITPYTHON_ENV, interpreters

pytestmark = [pytest.mark.slow]

TAKE = SHARED_DATA / "gestures" / "raw" / "2025-06-15T192906_wave.npy"
MODEL = REPO / "models" / "gesture"
KINDS = {"micropython": "micropython-unix", "circuitpython": "circuitpython"}
WINDOWS = 12


@pytest.fixture(params=sorted(KINDS))
def interpreter(request):
    path = interpreters()[KINDS[request.param]]
    if not path:
        pytest.skip(f"{request.param}: no interpreter (CircuitPython: set {CIRCUITPYTHON_ENV} to a unix build)")
    if not TAKE.exists():
        pytest.skip(f"shared test data not found at {TAKE}")
    return request.param, path


@pytest.fixture
def env(tmp_path):
    return cli.env(EDGELOOP_CACHE_DIR=tmp_path / "cache", EDGELOOP_RUNTIME_DIR=tmp_path / "run")


def flash_with_take(tmp_path):
    """A flash folder holding the take as /replay.bin; returns (folder, the take's frames)."""
    from edgeloop.sim import replay

    flash = tmp_path / "flash"
    flash.mkdir()
    path = replay.place_in_flash_dir(replay.load(TAKE), flash)
    blob = path.read_bytes()
    return flash, np.frombuffer(blob[HEADER_SIZE:], "<i2").reshape(-1, 3)


def test_sim_deploy_monitor_on_a_unix_interpreter(interpreter, env, tmp_path):
    kind, path = interpreter
    flash, frames = flash_with_take(tmp_path)
    db = tmp_path / "log.sqlite"
    with cli.Sim("--interpreter", path, "--board", "rp2040", "--flash", flash, env=env) as sim:
        deployed = cli.run("deploy", "--port", sim.port, "--model", MODEL, "--sensor", "replay", env=env)
        shown = cli.run("monitor", "--port", sim.port, "--window", "--count", WINDOWS, "--db", db, env=env)
    if kind == "circuitpython":
        assert "usb_cdc data channel on /dev/pts/" in deployed, deployed
        assert "adafruit-circuitpython-asyncio" in deployed, deployed
        # the libraries' own files, on the board's /lib (from the wheel, not written by edgeloop)
        assert (flash / "lib" / "asyncio" / "core.py").is_file() and (flash / "lib" / "adafruit_ticks.py").is_file()
    assert re.search(rf"\b{WINDOWS} inferences\b", shown) and " 0 corrupt" in shown, shown

    from tests.tools.gesture_reference import reference

    pytest.importorskip("tflite_micro")
    ref = reference(MODEL)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT window_index, top, scores, window, window_channels FROM inferences "
                       "ORDER BY id").fetchall()
    con.close()
    assert len(rows) >= WINDOWS
    w, hop, n = 50, 25, len(frames)  # models/gesture/model.json: window 50, hop 25
    for k, top, scores, blob, ch in rows:
        window = np.frombuffer(blob, "<i2").reshape(-1, ch)
        assert window.shape == (w, 3)
        start = (k - 1) * hop
        expect = frames[[(start + i) % n for i in range(w)]]  # the replay loops
        assert np.array_equal(window, expect), (kind, k)
        ref.check_row(window, top, scores)


def test_record_on_a_unix_interpreter_writes_the_take(interpreter, env, tmp_path):
    kind, path = interpreter
    flash, frames = flash_with_take(tmp_path)
    out = tmp_path / "takes"
    with cli.Sim("--interpreter", path, "--board", "rp2040", "--flash", flash, env=env) as sim:
        cli.run("deploy", "--port", sim.port, "--model", MODEL, "--sensor", "replay", env=env)
        cli.run("record", "--port", sim.port, "--label", "wave", "--seconds", "2", "--out", out, env=env)
    rows = np.loadtxt(next(out.glob("*.csv")), delimiter=",", skiprows=1)[:, 1:]
    assert len(rows) > 0
    n = len(frames)
    assert np.array_equal(rows.astype(np.int16), frames[[i % n for i in range(len(rows))]]), kind


def test_circuitpython_refuses_to_stream_on_its_console(env, tmp_path):
    """A boot.py without usb_cdc.enable(data=True): monitor says what to do, in one line, and streams nothing."""
    path = interpreters()["circuitpython"]
    if not path:
        pytest.skip(f"set {CIRCUITPYTHON_ENV} to a CircuitPython unix build")
    flash, _frames = flash_with_take(tmp_path)
    with cli.Sim("--interpreter", path, "--flash", flash, env=env) as sim:
        cli.run("deploy", "--port", sim.port, "--model", MODEL, "--sensor", "replay", env=env)
    boot = flash / "boot.py"
    boot.write_text(boot.read_text().replace("usb_cdc.enable(console=True, data=True)", "pass"))
    with cli.Sim("--interpreter", path, "--flash", flash, env=env) as sim:  # a new board start: a hard reset
        r = cli.subprocess.run(cli.COMMAND + ["monitor", "--port", sim.port, "--count", "1",
                                              "--db", str(tmp_path / "x.sqlite")],
                               env=env, capture_output=True, text=True, timeout=300, stdin=cli.subprocess.DEVNULL)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "usb_cdc data channel off" in lines[0] and "edgeloop deploy" in lines[0], r.stderr


def test_circuitpython_app_runs_under_the_asyncio_deploy_installed(env, tmp_path, monkeypatch):
    """CircuitPython builds no asyncio in: the app's asyncio entry point (app.start) runs on the
    Adafruit library `deploy` put in /lib, and its frames come over the data channel."""
    import serial

    from edgeloop.link.device import Device
    from edgeloop.link.discover import data_port
    from edgeloop.stream.reader import FrameReader
    from edgeloop_fw import protocol as P

    path = interpreters()["circuitpython"]
    if not path:
        pytest.skip(f"set {CIRCUITPYTHON_ENV} to a CircuitPython unix build")
    flash, _frames = flash_with_take(tmp_path)
    with cli.Sim("--interpreter", path, "--flash", flash, env=env) as sim:
        cli.run("deploy", "--port", sim.port, "--model", MODEL, "--sensor", "replay", env=env)
        monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", env["EDGELOOP_RUNTIME_DIR"])  # the sim's registry, read here
        data = data_port(sim.port)
        assert data, "the registry names no data port"
        code = ("import asyncio\nimport edgeloop_fw.app as A\nasync def main():\n"
                f"    app = A.start(flags={P.STREAM_INFERENCE}, seconds=3)\n"
                "    while True:\n        await asyncio.sleep_ms(100)\n        if not app.running and app.sample_index:\n"
                "            break\n    print('done', app.sample_index, asyncio.__file__)\n"
                "asyncio.run(main())")
        with Device(sim.port, soft_reset=True, timeout=60) as dev, serial.Serial(data, timeout=0.2) as s:
            out = dev.exec(code, timeout=300).decode()
            got = s.read(65536)
        assert out.startswith("done ") and "/lib/asyncio" in out, out
        inferences = [f for f in FrameReader().feed(got) if f.msg_type == P.MSG_INFERENCE]
        assert inferences, got[:200]
