"""Replay files: the host writer and the firmware's ReplaySensor against the recordings themselves."""

import wave
from array import array
from pathlib import Path

import numpy as np
import pytest

from edgeloop.sim import replay
from edgeloop_fw.sensors.bus import SensorError
from edgeloop_fw.sensors.replay import ReplaySensor
from tests.tools.paths import SHARED_DATA

DATA = SHARED_DATA
WAV = DATA / "tflm" / "micro_speech" / "no_1000ms.wav"
PARQUET = DATA / "gestures" / "cgestures.parquet"
pytestmark = pytest.mark.skipif(not PARQUET.exists() or not WAV.exists(), reason="../shared/data is not here")


def test_npy_and_parquet_give_the_same_take():
    take = "2025-06-15T192823_updown.npy"
    a = replay.load(DATA / "gestures" / "raw" / take)
    b = replay.load(PARQUET, take=take)
    np.testing.assert_array_equal(a.data, b.data)
    assert (a.rate_hz, a.units, a.label) == (100, "mg", "updown") and b.rate_hz == 100


def test_sensor_reads_the_wav_in_chunks_and_loops(tmp_path):
    with wave.open(str(WAV)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    path = replay.place_in_flash_dir(replay.load(WAV), tmp_path)
    s = ReplaySensor(str(path), chunk_frames=100)
    assert (s.channels, s.rate_hz, s.units, s.label) == (1, 16000, ("pcm16",), "no")
    out = array("h", bytes(2 * 333))
    got = []
    while len(got) < len(pcm) + 1000:
        n = s.read_block(out, 333)
        got.extend(out[:n])
    np.testing.assert_array_equal(got[: len(pcm)], pcm)
    np.testing.assert_array_equal(got[len(pcm): len(pcm) + 1000], pcm[:1000])
    assert s.laps == 1


def test_bad_replay_inputs(tmp_path):
    with pytest.raises(replay.ReplayError, match="does not exist"):
        replay.load(tmp_path / "nope.npy")
    with pytest.raises(replay.ReplayError, match="name one with take="):
        replay.load(PARQUET)
    with pytest.raises(replay.ReplayError, match="has no take 'x.npy'"):
        replay.load(PARQUET, take="x.npy")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"NOPE" + bytes(28))
    with pytest.raises(SensorError, match="not an edgeloop replay file"):
        ReplaySensor(str(bad))
    with pytest.raises(SensorError, match="is not on the board"):
        ReplaySensor(str(tmp_path / "missing.bin"))
