"""The replay layout is one module: what the host writes is what the board's reader parses."""

import struct

import numpy as np
import pytest

from edgeloop.sim import replay
from edgeloop_fw.sensors import replay_format as F
from edgeloop_fw.sensors.bus import SensorError
from edgeloop_fw.sensors.replay import ReplaySensor


def test_header_size_is_the_struct_size():
    assert F.HEADER_SIZE == struct.calcsize(F.HEADER)


def test_host_writer_and_board_reader_agree(tmp_path):
    take = replay.Replay(np.arange(12, dtype=np.int16).reshape(4, 3), 100, "mg", "wave")
    blob = take.to_bytes()
    assert F.parse_header(blob[:F.HEADER_SIZE]) == (3, 100000, 4, "mg", "wave")
    back = replay.from_bytes(blob)
    np.testing.assert_array_equal(back.data, take.data)
    assert (back.rate_hz, back.units, back.label) == (100, "mg", "wave")
    path = tmp_path / "r.bin"
    path.write_bytes(blob)
    s = ReplaySensor(str(path))
    assert (s.channels, s.frames, s.rate_hz, s.units, s.label) == (3, 4, 100, ("mg",) * 3, "wave")
    s.close()


def test_a_newer_version_is_refused_the_same_way_on_both_sides(tmp_path):
    blob = bytearray(replay.Replay(np.zeros((2, 1), np.int16), 16000, "pcm16", "no").to_bytes())
    blob[4] = F.VERSION + 1
    with pytest.raises(replay.ReplayError, match="replay file version 2 is not supported") as host:
        replay.from_bytes(bytes(blob))
    path = tmp_path / "r.bin"
    path.write_bytes(blob)
    with pytest.raises(SensorError) as board:
        ReplaySensor(str(path))
    assert str(board.value) == str(host.value)
