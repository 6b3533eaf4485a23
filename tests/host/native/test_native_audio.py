"""The C audio front end (el_audio.c, host gcc through ctypes) against TFLM's audio preprocessor.

The reference is audio_preprocessor_int8.tflite run by the tflite-micro
interpreter, re-packed with its intermediate tensors as outputs, so every
stage of every frame is compared (a mismatch names the stage), on the four
TFLM recordings and a CI-sized subset of the Speech Commands clips in
../shared/data (the slow test takes all of them); then each stage alone, cut
out of the model, on inputs no recording produces (full-scale noise, square
waves, -32768 runs, energies near 2**32, every power-of-two boundary). The
parameters go through the board's packer and the C's binder, as on a board.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.firmware.cpython.test_audio_frontend import (CLIPS, DATA, MODEL, T_DENOISED, T_ENERGY_U32,
                                                         T_FILTERBANK, T_LOG, T_NOISE, T_OUT, T_PCAN, T_RFFT,
                                                         T_SCALE_BITS, T_SCALED, T_SQRT, _hostile_frames,
                                                         read_wav, run, tflm_cut, tflm_with_outputs)
from tests.tools.paths import REPO

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="needs ../shared/data/tflm/micro_speech (reference data)")
SPEECH = REPO / ".." / "shared" / "data" / "speech_commands"
RNG = np.random.default_rng(20261207)
OUTS = [T_OUT, T_SCALED, T_SCALE_BITS, T_RFFT, T_ENERGY_U32, T_FILTERBANK, T_SQRT, T_DENOISED, T_NOISE,
        T_PCAN, T_LOG]


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    import shutil
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    from tests.tools.native_audio import HostAudio
    return HostAudio(tmp_path_factory.mktemp("el_audio"))


def _speech_clips(per_folder: int | None):
    if not SPEECH.is_dir():
        return []
    out = []
    for folder in sorted(p for p in SPEECH.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.flac"))
        out += files if per_folder is None else files[:per_folder]
    return out


def _samples(clip) -> np.ndarray:
    if isinstance(clip, str):
        return np.frombuffer(read_wav(clip), dtype=np.int16)
    from edgeloop.train.real_speech import read_clip
    return read_clip(clip)


def _every_stage_equals_tflm(audio, interp, x: np.ndarray, name: str) -> None:
    interp.reset()
    audio.reset()
    noise = np.zeros(audio.nch, np.uint32)
    for f in range(1 + (len(x) - 480) // 320):
        frame = x[f * 320:f * 320 + 480]
        run(interp, frame.reshape(1, 480))
        ref = [interp.get_output(i).reshape(-1) for i in range(len(OUTS))]
        windowed, bits = audio.window(frame)
        spectrum = audio.rfft(windowed)
        energy = audio.energy(spectrum)
        fb = audio.filterbank(energy)
        amp = audio.sqrt(fb, bits)
        den = audio.spectral_subtraction(amp, noise)
        gained = audio.pcan(noise, den)
        logs = audio.log(gained)
        feats = audio.int8(logs)
        ours = [feats, windowed[:480], np.array([bits]), spectrum, energy, fb, amp, den, noise, gained, logs]
        for tensor, r, o in zip(OUTS, ref, ours):
            assert np.array_equal(r, o), f"{name} frame {f}, tensor {tensor}"
        # the whole hop in one call, with its own noise state, gives the same bytes
        assert audio.frame(frame).tobytes() == ref[0].astype(np.int8).tobytes(), f"{name} frame {f}: el_audio_frame"


def test_header_order_is_the_board_packers():
    """el_audio.h's indices and edgeloop_fw/audio/native.py's names are one order."""
    from edgeloop_fw.audio import native
    h = (REPO / "host" / "edgeloop" / "native" / "kernels" / "el_audio.h").read_text()
    scalars = re.findall(r"EL_AU_(\w+),", h.split("EL_AU_VERSION,")[1].split("EL_AU_TABLES")[0])
    tables = re.findall(r"EL_AT_(\w+),", h.split("enum {")[2].split("EL_AT_COUNT")[0])
    assert tuple(scalars) == native.SCALARS and tuple(tables) == native.TABLES
    assert f"#define EL_AUDIO_VERSION {native.VERSION}\n" in h


@pytest.mark.parametrize("clip", CLIPS + [p.relative_to(SPEECH).as_posix() for p in _speech_clips(2)])
def test_every_stage_of_every_frame_equals_tflm(audio, clip):
    x = _samples(clip if clip in CLIPS else SPEECH / clip)
    _every_stage_equals_tflm(audio, tflm_with_outputs(OUTS), x, clip)


@pytest.mark.slow
def test_every_recording_equals_tflm(audio):
    """All Speech Commands clips in ../shared/data (3,899; about two minutes)."""
    clips = _speech_clips(None)
    if not clips:
        pytest.skip("needs ../shared/data/speech_commands")
    interp = tflm_with_outputs(OUTS)
    for clip in clips:
        _every_stage_equals_tflm(audio, interp, _samples(clip), clip.name)


def test_window_and_fft_equal_tflm_on_hostile_input(audio):
    win = tflm_cut(0, 2, [0], [T_SCALED, T_SCALE_BITS])
    fft = tflm_cut(3, 3, [T_SCALED], [T_RFFT])
    for i, frame in enumerate(_hostile_frames()):
        run(win, frame.reshape(1, 480))
        windowed, bits = audio.window(frame)
        assert np.array_equal(windowed[:480], win.get_output(0)) and bits == int(win.get_output(1)), i
        run(fft, frame)  # the raw frame as FFT input: full-scale values wrap the butterflies
        assert np.array_equal(audio.rfft(np.concatenate([frame, np.zeros(32, np.int16)])),
                              fft.get_output(0).reshape(-1)), f"fft, frame {i}"


def test_energy_filterbank_and_sqrt_equal_tflm_on_extreme_values(audio):
    en = tflm_cut(4, 8, [T_RFFT], [T_ENERGY_U32])
    fbs = tflm_cut(9, 10, [T_ENERGY_U32, T_SCALE_BITS], [T_FILTERBANK, T_SQRT])
    for i in range(24):
        spectrum = RNG.integers(-32768, 32768, 514, dtype=np.int16)
        if i % 3 == 0:
            spectrum[:] = -32768
        run(en, spectrum)
        assert np.array_equal(audio.energy(spectrum), en.get_output(0).reshape(-1)), i
        energy = RNG.integers(0, 2**32, 257, dtype=np.uint64).astype(np.uint32)
        if i % 4 == 0:
            energy[:] = 2**32 - 1
        elif i % 4 == 1:
            energy = RNG.integers(0, 4, 257, dtype=np.uint32)
        bits = i % 15
        run(fbs, energy, np.array(bits, dtype=np.int32))
        fb = audio.filterbank(energy)
        assert np.array_equal(fb, fbs.get_output(0)), f"filterbank {i}"
        assert np.array_equal(audio.sqrt(fb, bits), fbs.get_output(1)), f"sqrt {i}"


def test_sqrt_equals_tflm_at_every_boundary(audio):
    """Sqrt32/Sqrt64 rounding and saturation (0xFFFF below 2**32, 0xFFFFFFFF above)."""
    interp = tflm_cut(10, 10, [T_FILTERBANK, T_SCALE_BITS], [T_SQRT])
    xs = {v for k in range(65) for v in (2**k - 1, 2**k, 2**k + 1)}
    for r in (0xFFFE, 0xFFFF, 0x10000, 2**24 + 3, 0xFFFFFFFE, 0xFFFFFFFF):
        xs |= {r * r - 1, r * r, r * r + 1, r * r + r, r * r + r + 1}
    xs = sorted(v for v in xs if 0 <= v < 2**64) + RNG.integers(0, 2**63, 200, dtype=np.uint64).tolist()
    xs += [0] * (-len(xs) % 40)
    for i in range(0, len(xs), 40):
        chunk = np.array(xs[i:i + 40], dtype=np.uint64)
        for bits in (0, 5):
            run(interp, chunk, np.array(bits, dtype=np.int32))
            assert np.array_equal(audio.sqrt(chunk, bits), interp.get_output(0)), chunk.tolist()


def test_noise_reduction_pcan_log_and_int8_equal_tflm_over_a_long_random_sequence(audio):
    interp = tflm_cut(11, 21, [T_SQRT], [T_DENOISED, T_NOISE, T_PCAN, T_LOG, T_OUT])
    interp.reset()
    noise = np.zeros(40, np.uint32)
    for f in range(300):
        amp = RNG.integers(0, [2**8, 2**16, 2**22, 2**32][f % 4], 40, dtype=np.uint64).astype(np.uint32)
        run(interp, amp)
        den = audio.spectral_subtraction(amp, noise)
        gained = audio.pcan(noise, den)
        logs = audio.log(gained)
        ours = [den, noise, gained, logs, audio.int8(logs)]
        for k, o in enumerate(ours):
            assert np.array_equal(o, interp.get_output(k).reshape(-1)), f"frame {f}, output {k}"


def test_log_and_int8_equal_tflm_at_every_boundary(audio):
    log = tflm_cut(13, 13, [T_PCAN], [T_LOG])
    xs = sorted({v & 0xFFFFFFFF for k in range(33) for v in (2**k - 1, 2**k, 2**k + 1)})
    xs += RNG.integers(0, 2**32, 800, dtype=np.uint64).tolist()
    xs += [0] * (-len(xs) % 40)
    for i in range(0, len(xs), 40):
        chunk = np.array(xs[i:i + 40], dtype=np.uint32)
        run(log, chunk)
        assert np.array_equal(audio.log(chunk), log.get_output(0)), chunk.tolist()
    tail = tflm_cut(14, 21, [T_LOG], [T_OUT])
    every = np.arange(-32768, 32768, dtype=np.int64)
    every = np.concatenate([every, np.zeros(-len(every) % 40, np.int64)]).astype(np.int16)
    for i in range(0, len(every), 40):
        run(tail, every[i:i + 40])
        assert np.array_equal(audio.int8(every[i:i + 40]), tail.get_output(0)), i


@pytest.mark.parametrize("index, value, why", [
    (0, 2, "another version"),
    (3, 256, "fft_length"),                # FFT_LENGTH not 2 * 4**k
    (1, 600, "window"),                    # FRAME_LENGTH > its table
    (6, 41, "num_channels"),               # NUM_CHANNELS against the band tables
    (15, 64, "PCAN"),                      # snr_shift
    (20, 0, "int8"),                       # OUT_DIV
    (24, 100000, "outside the table buffer"),  # WINDOW's offset
])
def test_bind_refuses_a_header_that_would_leave_the_tables(audio, index, value, why):
    saved = audio.header[index]
    audio.header[index] = value
    try:
        with pytest.raises(ValueError, match=why):
            audio.bind()
    finally:
        audio.header[index] = saved
        audio.bind()


def test_bind_refuses_a_band_outside_the_spectrum(audio):
    from edgeloop_fw.audio import native
    at = 1 + len(native.SCALARS) + 2 * native.TABLES.index("FB_WIDTHS")
    widths = audio.header[at]
    saved = audio.tables[widths + 40]
    audio.tables[widths + 40] = 300
    try:
        with pytest.raises(ValueError, match="band lies outside"):
            audio.bind()
    finally:
        audio.tables[widths + 40] = saved
        audio.bind()


@pytest.mark.parametrize("core", ["m0", "m7"])
def test_bare_metal_cortexm_equals_tflm(tmp_path, core):
    """el_audio.c built with arm-none-eabi-gcc for Cortex-M0+ (microbit) and M7 (mps2-an500),
    run under qemu-system-arm over whole clips (noise state carried): TFLM's features."""
    import shutil
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    from tests.tools import cortexm, cortexm_audio
    from tests.tools.kws_reference import tflm_stream_features
    clips = {c: _samples(c) for c in CLIPS}
    clips.update({p.name: _samples(p) for p in _speech_clips(1)[:4]})
    clips["hostile"] = np.concatenate(_hostile_frames())
    case, order = cortexm_audio.case(clips)
    want = b"".join(tflm_stream_features(x).tobytes() for x in clips.values())
    got = cortexm.run(core, cortexm.build_elf(core, cortexm_audio.source(case), tmp_path))["audio_frontend"]
    assert len(got) == len(want)
    at = 0
    for name, frames in order:
        n = frames * 40
        assert got[at:at + n] == want[at:at + n], f"{name} on {core}"
        at += n


def _filterbank_reference(audio, energy):
    """TFLM's FilterbankAccumulateChannels written out in numpy uint64 (int16 weights read as uint64)."""
    h, t = audio.header, audio.tables
    from edgeloop_fw.audio import native
    at = {name: h[1 + len(native.SCALARS) + 2 * i] for i, name in enumerate(native.TABLES)}
    nch = audio.nch
    w = t[at["FB_WEIGHTS"]:].astype(np.int64).astype(np.uint64)
    u = t[at["FB_UNWEIGHTS"]:].astype(np.int64).astype(np.uint64)
    fs, ws, wd = (t[at[k]:at[k] + nch + 1] for k in ("FB_FREQ_STARTS", "FB_WEIGHT_STARTS", "FB_WIDTHS"))
    e = energy.astype(np.uint64)
    out, acc = [], np.uint64(0)
    with np.errstate(over="ignore"):
        for c in range(nch + 1):
            nxt = np.uint64(0)
            for j in range(wd[c]):
                acc += w[ws[c] + j] * e[fs[c] + j]
                nxt += u[ws[c] + j] * e[fs[c] + j]
            out.append(acc)
            acc = nxt
    return np.array(out[1:], dtype=np.uint64)


def test_filterbank_with_any_int16_weights_equals_tflms_uint64_sums(audio):
    """Weights micro_speech does not have (negative, full-scale int16) take the 64-bit loop
    instead of the 32-bit one; both give TFLM's uint64 sums modulo 2**64."""
    from edgeloop_fw.audio import native
    at = 1 + len(native.SCALARS) + 2 * native.TABLES.index("FB_WEIGHTS")
    lo, n = audio.header[at], audio.header[at + 1]
    saved = audio.tables.copy()
    try:
        for case in range(6):
            energy = RNG.integers(0, 2**32, 257, dtype=np.uint64).astype(np.uint32)
            if case:  # case 0: the model's own weights (the 32-bit loop)
                audio.tables[lo:lo + 2 * n] = RNG.integers(-32768, 32768, 2 * n, dtype=np.int16) if case % 2 else \
                    RNG.integers(0, 32768, 2 * n, dtype=np.int16)
                audio.bind()
            assert np.array_equal(audio.filterbank(energy), _filterbank_reference(audio, energy)), case
    finally:
        audio.tables[:] = saved
        audio.bind()


UNIX = """
import gc, micropython
from array import array
from edgeloop_fw.audio import AudioFrontend
from edgeloop_fw.runtime.native import elnative
S = array('h', open('x.bin', 'rb').read())
fe = AudioFrontend()
print('LEVEL', fe.level)
print('FEATS', bytes(fe.clip_features(S)).hex())
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
after = gc.mem_alloc()
print('ALLOC', after - before)
h, t, w = fe._hdr, fe._tables, fe._work
for args in ((h, t, bytearray(len(w) - 1), S, 0, bytearray(40)), (h, t, w, S, len(S) - 479, bytearray(40)),
             (h, t, w, S, -1, bytearray(40)), (h, t, w, S, 0, bytearray(39)), (h[:10], t, w, S, 0, bytearray(40)),
             (h, t[:100], w, S, 0, bytearray(40))):
    try:
        elnative.audio_frame(*args)
        print('NO ERROR')
    except ValueError:
        print('VE')
"""


def test_unix_micropython_picks_the_c_front_end_equal_to_tflm(tmp_path_factory):
    """The venv's unix MicroPython (x64 module): AudioFrontend() picks elnative.audio_frame,
    gives TFLM's features for a whole clip, allocates nothing per hop (runs under heap_lock),
    and refuses calls whose buffers are too small instead of touching memory past them."""
    from edgeloop.native.build import native_module
    from tests.tools import viper_board
    from tests.tools.kws_reference import tflm_stream_features
    why = viper_board.unavailable()
    if why:
        pytest.skip(why)
    if viper_board.mpy_info(viper_board.binary())["arch"] != "x64":
        pytest.skip(f"{viper_board.binary()} is not an x64 MicroPython")
    root = tmp_path_factory.mktemp("audio_board")
    viper_board.install(root, tmp_path_factory.mktemp("mpy_cache"))
    (root / "lib" / "edgeloop_fw" / "runtime" / "native" / "elnative.mpy").write_bytes(
        native_module("x64", tmp_path_factory.mktemp("mod")))
    x = _samples("yes_1000ms")
    (root / "x.bin").write_bytes(x.tobytes())
    out = viper_board.run(root, UNIX)
    lines = dict(line.split(" ", 1) for line in out.splitlines() if line[:1].isupper() and " " in line)
    assert lines["LEVEL"] == "native"
    assert bytes.fromhex(lines["FEATS"]) == tflm_stream_features(x).tobytes()
    assert lines["ALLOC"] == "0"
    assert out.split().count("VE") == 6 and "NO ERROR" not in out
