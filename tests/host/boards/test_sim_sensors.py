"""`edgeloop sim --imu/--mic`: the firmware's real drivers read emulated chips fed by real recordings.

Every test runs the firmware's app on the virtual board with the sensor a
board profile names, opened from /edgeloop.json through `open_sensor` (so
through `open_i2c`/`open_spi`/`machine.I2S` as on hardware), and compares what the app
streams with the recording read independently here (numpy on the .npy, the
wave module on the clip), not with anything the emulation computed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from edgeloop_fw import protocol as P
from edgeloop.boards import profiles
from edgeloop.link.device import BoardException, Device
from edgeloop.stream.link import BoardLink
from edgeloop.stream.reader import FrameReader
from tests.tools.paths import REPO

pytestmark = pytest.mark.sim

DATA = REPO.parent / "shared" / "data"
TAKE = DATA / "gestures" / "raw" / "2025-06-15T192906_wave.npy"
CLIP = DATA / "tflm" / "micro_speech" / "yes_1000ms.wav"


def need(*paths):
    for p in paths:
        if not p.exists():
            pytest.skip(f"{p} is missing (../shared/data, see its README)")


def reference_mg(path: Path) -> np.ndarray:
    """The take in the drivers' output unit: emlearn's raw counts at ±2 g -> g -> mg, nearest, halves away from 0."""
    g = np.load(path).astype(np.float64) * 2 / 32767
    return np.sign(g) * np.floor(np.abs(g) * 1000 + 0.5)


def reference_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int64)


def firmware_flash(tmp_path: Path, config: dict) -> Path:
    """A flash folder with the firmware (source) and the app's config, as `edgeloop deploy` leaves it."""
    flash = tmp_path / "flash"
    shutil.copytree(REPO / "firmware" / "edgeloop_fw", flash / "lib" / "edgeloop_fw",
                    ignore=shutil.ignore_patterns("__pycache__", "runtime"))
    (flash / "edgeloop.json").write_text(json.dumps(config))
    return flash


def sensor_config(board: str, kind: str, **extra) -> dict:
    """The profile's sensor entry plus stream settings: what deploy writes to /edgeloop.json."""
    s = profiles.load(board).sensor(kind)
    entry = {"kind": s.kind, "part": s.part, "bus": s.bus, "address": s.address, "pins": s.pins}
    return {"sensor": {**entry, **extra}, "board": board}


def stream_samples(port: str, seconds: float, statuses: list | None = None) -> list[dict]:
    """MSG_SAMPLES frames (fields + the board's t_ms) for `seconds` of record mode, through the stream library.

    MSG_STATUS frames go to `statuses` when given."""
    link = BoardLink(port, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD, timeout=30)
    link.open()
    reader, out = FrameReader(), []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for fr in reader.feed(link.read()):
                if fr.msg_type == P.MSG_SAMPLES:
                    out.append({**P.decode_payload(fr.msg_type, fr.payload), "t_ms": fr.t_ms})
                elif fr.msg_type == P.MSG_STATUS and statuses is not None:
                    statuses.append(P.decode_payload(fr.msg_type, fr.payload))
    finally:
        link.close()
    assert out, "no samples came"
    return out


def check_imu_stream(frames: list[dict], ref: np.ndarray) -> tuple[float, float]:
    """Each streamed sample against the take's frame for its sample index; (fraction exact, rate in Hz).

    The chip plays the take from frame 0 at the take's rate and the app reads it
    at the same rate from sample 0, so sample i should be frame i. A board more
    than half a period late reads a neighbouring frame, as real hardware would:
    those must still be the take's frames (one of i-3..i+3), and rare.
    """
    n = len(ref)
    exact = total = 0
    for f in frames:
        data = np.array(f["data"]).reshape(-1, f["channels"])
        for k, got in enumerate(data):
            i = f["sample_index"] + k
            total += 1
            if np.all(np.abs(got - ref[i % n]) <= 1):
                exact += 1
            else:
                near = [j for j in range(i - 3, i + 4) if np.all(np.abs(got - ref[j % n]) <= 1)]
                assert near, f"sample {i} = {got.tolist()} is no frame of the take near {i % n}"
    # The rate against the board's own clock: sample indices per board millisecond, first to last frame.
    first, last = frames[0], frames[-1]
    span_ms = last["t_ms"] - first["t_ms"]
    rate = (last["sample_index"] - first["sample_index"]) * 1000 / span_ms
    return exact / total, rate


IMU_CASES = [
    pytest.param("rp2040", None, 4, id="MPU-6050"),
    pytest.param("nano_rp2040_connect", None, 2, id="LSM6DSOX"),
    pytest.param("esp32s3", "ICM-42670", 8, id="ICM-42670"),
    pytest.param("nicla_vision", None, 4, id="LSM6DSOX-SPI"),  # on spi5: machine.SPI + chip-select Pin
]


@pytest.mark.parametrize("board,part,accel_g", IMU_CASES)
def test_imu_driver_streams_the_recording(virtual_board_factory, tmp_path, board, part, accel_g):
    need(TAKE)
    cfg = sensor_config(board, "imu", rate=100, accel_g=accel_g)
    if part:
        cfg["sensor"]["part"] = part
    vb = virtual_board_factory(board=board, flash_dir=firmware_flash(tmp_path, cfg), imu=TAKE, imu_part=part)
    statuses = []
    frames = stream_samples(vb.port, 4.0, statuses)
    assert frames[0]["channels"] == 3 and frames[0]["rate_hz"] == 100
    exact, rate = check_imu_stream(frames, reference_mg(TAKE))
    n = sum(len(f["data"]) for f in frames) // 3
    assert n >= 200, n
    assert exact >= 0.95, f"only {exact:.1%} of {n} samples were the take's frame for their index"
    assert abs(rate - 100) <= 3, rate
    # This board collects garbage only between executions: a sample path that allocated would
    # show here as free heap falling by tens of bytes per sample (400 samples in 4 s).
    free = [s["free_heap"] for s in statuses]
    assert len(free) >= 2 and free[0] - min(free) < 1024, free


def test_i2s_microphone_blocks_are_the_clip(virtual_board_factory, tmp_path):
    need(CLIP)
    cfg = sensor_config("rp2040", "microphone", rate=16000)
    vb = virtual_board_factory(board="rp2040", flash_dir=firmware_flash(tmp_path, cfg), mic=CLIP)
    frames = stream_samples(vb.port, 3.0)
    ref = reference_pcm(CLIP)
    got = np.concatenate([np.array(f["data"]) for f in frames])
    start = frames[0]["sample_index"]
    # Contiguous in sample index, and sample i is the clip's sample i: the INMP441's 24-bit word in a
    # 32-bit slot, whose top 16 bits the driver keeps, is the clip's int16 sample exactly.
    assert [f["sample_index"] for f in frames] == [start + 160 * k for k in range(len(frames))]
    expect = ref[(start + np.arange(len(got))) % len(ref)]
    assert len(got) >= 16000 and np.array_equal(got, expect)
    rate = (frames[-1]["sample_index"] - start) * 1000 / (frames[-1]["t_ms"] - frames[0]["t_ms"])
    assert abs(rate - 16000) <= 16000 * 0.03, rate


def test_pdm_microphone_blocks_are_runs_of_the_clip(virtual_board_factory, tmp_path):
    """nano_rp2040_connect's MP34DT06 is PDM: the firmware's audiobusio.PDMIn path, unsigned samples centred
    on 32768, back to signed. PDMIn records from the moment it is called, so blocks are runs of the clip."""
    need(CLIP)
    cfg = sensor_config("nano_rp2040_connect", "microphone", rate=16000)
    vb = virtual_board_factory(board="nano_rp2040_connect", flash_dir=firmware_flash(tmp_path, cfg), mic=CLIP)
    frames = stream_samples(vb.port, 3.0)
    ref = reference_pcm(CLIP)
    doubled = np.concatenate([ref, ref])
    got = np.concatenate([np.array(f["data"]) for f in frames])
    blocks = got[: len(got) // 320 * 320].reshape(-1, 320)
    assert len(blocks) >= 25
    loud = 0
    for b in blocks:
        if not np.any(b):
            continue  # silence at the clip's start matches anywhere
        loud += 1
        starts = np.flatnonzero(doubled[: len(ref)] == b[0])
        assert any(np.array_equal(doubled[s:s + 320], b) for s in starts), "a block is not a run of the clip"
    assert loud >= 10


def test_unknown_register_names_part_and_register(virtual_board_factory, tmp_path):
    need(TAKE)
    cfg = sensor_config("nano_rp2040_connect", "imu", rate=100)
    vb = virtual_board_factory(board="nano_rp2040_connect", flash_dir=firmware_flash(tmp_path, cfg), imu=TAKE)
    code = ("from edgeloop_fw.sensors.bus import open_i2c, I2CDevice\n"
            "dev = I2CDevice(open_i2c('i2c0', {'sda': 12, 'scl': 13}), 0x6A)\n"
            "print(hex(dev.read_u8(0x0F)))\n"
            "dev.write_u8(0x13, 0x02)  # CTRL4_C: the model does not emulate it\n")
    with Device(vb.port) as dev:
        with pytest.raises(BoardException) as e:
            dev.exec(code)
    assert "UnmodelledRegister" in e.value.traceback
    assert "LSM6DSOX (virtual): write of register 0x13 is not emulated" in e.value.traceback


@pytest.mark.parametrize("board,pins,says", [
    ("rp2040", {"sda": 8, "scl": 9}, "no answer from I2C address 0x68"),
    # SPI has no acknowledge: an unselected chip leaves MISO undriven, so the identity check is what fails.
    ("nicla_vision", {"cs": "PF5", "sck": "PF7", "miso": "PF8", "mosi": "PF11"},
     "the chip at SPI spi5, chip select PF5 says WHO_AM_I=0xff, not 0x6c (LSM6DSOX)"),
])
def test_wrong_pins_reach_no_chip(virtual_board_factory, tmp_path, board, pins, says):
    need(TAKE)
    cfg = sensor_config(board, "imu", rate=100, pins=pins)
    vb = virtual_board_factory(board=board, flash_dir=firmware_flash(tmp_path, cfg), imu=TAKE)
    with Device(vb.port) as dev:
        with pytest.raises(BoardException, match=re.escape(says)):
            dev.exec("import json\nfrom edgeloop_fw.sensors import open_sensor\n"
                     "open_sensor(json.load(open('/edgeloop.json'))['sensor'])")


def cli_env(tmp_path) -> tuple[dict, list[str]]:
    """(environment, command prefix) for running `edgeloop` in its own process, as a user does."""
    from edgeloop.sim import node_status
    ok, why = node_status()
    if not ok:
        pytest.skip(why)
    env = {**os.environ, "EDGELOOP_CACHE_DIR": str(tmp_path / "cache"), "EDGELOOP_RUNTIME_DIR": str(tmp_path / "run"),
           "PYTHONPATH": os.pathsep.join([str(REPO / "host"), str(REPO / "firmware")])}
    return env, [sys.executable, "-m", "edgeloop.cli"]


@contextlib.contextmanager
def cli_board(env, edgeloop, sim_args, config, logs):
    """`edgeloop sim --board rp2040 SIM_ARGS` in its own process, `edgeloop deploy` to it, and the
    sensor config deploy writes from the profile; yields the port. The sim's stderr goes to `logs`."""
    sim = subprocess.Popen(edgeloop + ["sim", "--board", "rp2040", *sim_args], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/"), sim.stderr.read()
        r = subprocess.run(edgeloop + ["deploy", "--port", port, "--board", "rp2040"], env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        with Device(port) as dev:
            dev.transport.fs_writefile("/edgeloop.json", json.dumps(config).encode())
        yield port
    finally:
        sim.terminate()
        logs.append(sim.communicate(timeout=30)[1])


def test_cli_sim_imu_then_deploy_and_record(tmp_path):
    """The user's path: `edgeloop sim --imu` in one process, `edgeloop deploy` and `edgeloop record` in others."""
    need(TAKE)
    env, edgeloop = cli_env(tmp_path)
    logs = []
    with cli_board(env, edgeloop, ["--imu", str(TAKE)], sensor_config("rp2040", "imu", rate=100), logs) as port:
        out = tmp_path / "takes"
        r = subprocess.run(edgeloop + ["record", "--port", port, "--label", "wave", "--seconds", "4",
                                       "--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    err = logs[0]
    assert "imu: MPU-6050 on i2c0 address 0x68 (sda 4, scl 5), 400 frames at 100 Hz" in err
    meta = json.loads(next(out.glob("*.json")).read_text())
    assert meta["sensor"] == "MPU-6050" and meta["units"] == "mg,mg,mg" and meta["rate_hz"] == 100
    # No device_id in the config: the board names itself by its chip id (machine.unique_id()).
    assert len(meta["device_id"]) == 16 and int(meta["device_id"], 16) != 0, meta["device_id"]
    rows = np.loadtxt(next(out.glob("*.csv")), delimiter=",", skiprows=1)[:, 1:]
    ref = reference_mg(TAKE)
    exact = np.mean([np.all(np.abs(row - ref[i % len(ref)]) <= 1) for i, row in enumerate(rows)])
    assert len(rows) >= 200 and exact >= 0.95, (len(rows), exact)


def test_cli_record_from_the_microphone_writes_the_wav_folder_retrain_reads(tmp_path):
    """`record --wav` on a board with the emulated I2S microphone: each take is a WAV under
    <dir>/<label>/<speaker>_nohash_<n>.wav whose samples are a run of the clip the microphone heard,
    read back with the wave module. A speaker name that cannot name a file is refused before the
    port is opened."""
    need(CLIP)
    env, edgeloop = cli_env(tmp_path)
    words = tmp_path / "myvoice"
    bad = subprocess.run(edgeloop + ["record", "--label", "yes", "--wav", str(words), "--speaker", "a_b",
                                     "--port", "/dev/null"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--speaker 'a_b'" in bad.stderr and not words.exists(), bad.stderr
    with cli_board(env, edgeloop, ["--mic", str(CLIP)], sensor_config("rp2040", "microphone", rate=16000), []) as port:
        for _ in range(2):
            r = subprocess.run(edgeloop + ["record", "--port", port, "--label", "yes", "--seconds", "1",
                                           "--out", str(tmp_path / "takes"), "--wav", str(words), "--speaker", "ana"],
                               env=env, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (words / "yes").iterdir()) == ["ana_nohash_0.wav", "ana_nohash_1.wav"]
    ref = reference_pcm(CLIP)
    for p in (words / "yes").iterdir():
        with wave.open(str(p)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 16000)
            got = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        # The take starts wherever the board's first frame fell in the looping clip: find that
        # place by its first 64 samples (quiet stretches match in several), then every sample after it
        # must be the clip's.
        starts = [i for i in range(len(ref)) if np.array_equal(np.take(ref, np.arange(i, i + 64), mode="wrap"), got[:64])]
        assert any(np.array_equal(np.take(ref, np.arange(i, i + len(got)), mode="wrap"), got) for i in starts), \
            f"{p.name} is not a run of {CLIP.name}"


@pytest.mark.parametrize("args,says", [
    (["--board", "nicla_vision", "--imu", str(TAKE), "--imu-part", "MPU-6050"],
     "the MPU-6050 has no SPI interface; pick one that has (LSM6DSOX, ICM-42670)"),
    (["--board", "nicla_vision", "--mic", str(CLIP)],
     "stock MicroPython has no PDM driver for it (OpenMV's firmware does), so audio models need a custom build"),
    (["--imu", str(CLIP)], "that is a pcm16 recording; give an accelerometer take"),
    (["--mic", str(TAKE)], "give a 16-bit mono WAV clip"),
    (["--imu", str(TAKE), "--imu-part", "BMI270"], "--imu-part BMI270: the virtual board emulates LSM6DSOX"),
    (["--take", "x"], "--imu-part and --take go with --imu"),
])
def test_cli_sim_refuses_in_one_line_and_writes_nothing(tmp_path, args, says):
    from click.testing import CliRunner

    from edgeloop.cli import cli

    need(TAKE, CLIP)
    flash = tmp_path / "flash"
    result = CliRunner().invoke(cli, ["sim", "--flash", str(flash), *args])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("edgeloop: ") and says in lines[0], lines[0]
    assert not flash.exists()


def test_an_exported_take_in_mg_replays_as_the_same_frames(tmp_path):
    """`edgeloop export` writes the board's milli-g; `sim --imu` on it must not read them as g
    (they saturated at 32767 mg before), and must give the frames of the same take in g."""
    need(DATA / "gestures" / "cgestures.parquet")
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from edgeloop.sim import replay

    src = DATA / "gestures" / "cgestures.parquet"
    take = "2025-06-15T192914_wave.npy"
    t = pq.read_table(src)
    rows = t.filter(pc.equal(t["file"], take))
    g = np.stack([rows[c].to_numpy() for c in ("x", "y", "z")], axis=1)
    mg = np.sign(g) * np.floor(np.abs(g) * 1000 + 0.5)  # rounded here, not by edgeloop
    cols = {"time": rows["time"].to_numpy(), "x": mg[:, 0], "y": mg[:, 1], "z": mg[:, 2],
            "file": rows["file"].to_pylist(), "activity": rows["activity"].to_pylist()}
    pq.write_table(pa.table(cols), tmp_path / "windows.parquet")
    got = replay.load(tmp_path / "windows.parquet", take=take).data
    assert np.array_equal(got, mg.astype(np.int16))
    assert np.array_equal(got, replay.load(src, take=take).data)
