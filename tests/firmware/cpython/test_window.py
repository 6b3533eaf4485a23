"""Windowing against numpy's sliding_window_view on a real recording."""

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from edgeloop.sim import replay
from edgeloop_fw.window import Windower
from tests.tools.paths import SHARED_DATA

DATA = SHARED_DATA
TAKES = sorted((DATA / "gestures" / "raw").glob("*.npy"))[:3]
WAV = DATA / "tflm" / "micro_speech" / "yes_1000ms.wav"
pytestmark = pytest.mark.skipif(not TAKES or not WAV.exists(), reason="../shared/data is not here")


def reference(x, window, hop):
    # (n_windows, channels, window) -> (n_windows, window, channels), flattened per window
    w = sliding_window_view(x, window, axis=0)[::hop]
    return w.transpose(0, 2, 1).reshape(len(w), -1)


@pytest.mark.parametrize("window,hop", [(100, 50), (50, 50), (64, 7), (20, 30), (1, 1)])
def test_per_frame_push_matches_numpy(window, hop):
    x = replay.load(TAKES[0]).data
    w = Windower(3, window, hop)
    got = []
    for f in range(len(x)):
        if w.push(x[f].tolist()):
            got.append(list(w.window))
    np.testing.assert_array_equal(np.array(got), reference(x, window, hop))


@pytest.mark.parametrize("block", [1, 160, 320, 333])
def test_block_push_matches_numpy_on_audio(block):
    x = replay.load(WAV).data  # (16000, 1) int16
    w = Windower(1, 480, 320)
    got = []
    flat = x.ravel().tolist()
    for start in range(0, len(flat), block):
        chunk = flat[start:start + block]
        done = 0
        while done < len(chunk):
            done += w.push_block(chunk, done, len(chunk) - done)
            if w.ready:
                got.append(list(w.window))
    np.testing.assert_array_equal(np.array(got), reference(x, 480, 320))
    assert len(got) == 49  # micro_speech's 49 feature frames per second


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="must be >= 1"):
        Windower(3, 0, 1)
