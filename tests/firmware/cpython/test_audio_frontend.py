"""The audio front end against TFLM itself, frame by frame and stage by stage.

The reference is TFLM's own preprocessor model run by the tflite-micro
interpreter. For stage-level checks the same model is re-packed with its
intermediate tensors as extra outputs, or cut down to a single op so a stage
can be fed inputs the recordings never produce (full-scale noise, -32768s,
values near 2**32).
"""

from __future__ import annotations

import array
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.tools.paths import REPO

ROOT = REPO
DATA = ROOT / ".." / "shared" / "data" / "tflm" / "micro_speech"
MODEL = DATA / "audio_preprocessor_int8.tflite"

from edgeloop_fw.audio import AudioFrontend, frame_count  # noqa: E402
from edgeloop_fw.audio import filterbank as fb_stage  # noqa: E402
from edgeloop_fw.audio import logscale, noise  # noqa: E402
from edgeloop_fw.audio.fft import Rfft16  # noqa: E402
from edgeloop_fw.audio.window import window_pass  # noqa: E402

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="needs ../shared/data/tflm/micro_speech (reference data)")
CLIPS = ["yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms"]

# Tensor indices in audio_preprocessor_int8.tflite (checked in _graph()).
T_AUDIO, T_SCALED, T_SCALE_BITS, T_RFFT, T_ENERGY_U32 = 0, 21, 22, 23, 28
T_FILTERBANK, T_SQRT, T_DENOISED, T_NOISE, T_PCAN, T_LOG, T_OUT = 29, 30, 31, 32, 33, 34, 42


def read_wav(name: str) -> array.array:
    with wave.open(str(DATA / (name + ".wav"))) as w:
        assert (w.getsampwidth(), w.getnchannels(), w.getframerate()) == (2, 1, 16000)
        a = array.array("h")
        a.frombytes(w.readframes(w.getnframes()))
    return a


def _schema():
    return pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")


def _graph():
    s = _schema()
    buf = MODEL.read_bytes()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(buf, 0))
    names = [t.name.decode() for t in model.subgraphs[0].tensors]
    assert names[T_RFFT] == "signal_rfft" and names[T_LOG] == "signal_filter_bank_log"
    return model


def _interpreter(model):
    import flatbuffers
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    b = flatbuffers.Builder(0)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return runtime.Interpreter.from_bytes(bytes(b.Output()))


def tflm_with_outputs(outputs):
    """The preprocessor with extra subgraph outputs (TFLM then keeps them alive)."""
    model = _graph()
    model.subgraphs[0].outputs = np.array(outputs, dtype=np.int32)
    return _interpreter(model)


def tflm_cut(first_op, last_op, inputs, outputs):
    """Only ops first_op..last_op, fed from `inputs`: one stage as its own model."""
    model = _graph()
    sg = model.subgraphs[0]
    sg.operators = sg.operators[first_op:last_op + 1]
    sg.inputs = np.array(inputs, dtype=np.int32)
    sg.outputs = np.array(outputs, dtype=np.int32)
    return _interpreter(model)


def once(gen, arg=None):
    """Run a stage generator for one frame (prime it, then one pass); returns what it yields."""
    next(gen)
    return gen.send(arg)


def run(interp, *inputs):
    for i, x in enumerate(inputs):
        interp.set_input(x, i)  # before every invoke: TFLM reuses input memory
    interp.invoke()


# -- whole front end -----------------------------------------------------------

@pytest.mark.parametrize("clip", CLIPS)
def test_every_frame_equals_tflm(clip):
    samples = read_wav(clip)
    x = np.frombuffer(samples, dtype=np.int16)
    interp = tflm_with_outputs([T_OUT])
    interp.reset()
    ours = AudioFrontend().clip_features(samples)
    frames = frame_count(len(samples))
    assert frames == 49 and len(ours) == 49 * 40
    for f in range(frames):
        run(interp, x[f * 320:f * 320 + 480].reshape(1, 480))
        ref = interp.get_output(0)
        assert bytes(ours[f * 40:(f + 1) * 40]) == ref.astype(np.int8).tobytes(), "frame %d" % f


@pytest.mark.parametrize("clip", ["yes_30ms", "no_30ms"])
def test_snippet_equals_tflm(clip):
    samples = read_wav(clip)
    interp = tflm_with_outputs([T_OUT])
    run(interp, np.frombuffer(samples, dtype=np.int16).reshape(1, 480))
    fe = AudioFrontend()
    assert bytes(fe.process(samples)) == interp.get_output(0).tobytes()


@pytest.mark.parametrize("clip", CLIPS)
def test_every_stage_of_every_frame_equals_tflm(clip):
    """Each intermediate tensor, so a mismatch names the stage that broke."""
    samples = read_wav(clip)
    x = np.frombuffer(samples, dtype=np.int16)
    outs = [T_OUT, T_SCALED, T_SCALE_BITS, T_RFFT, T_ENERGY_U32, T_FILTERBANK, T_SQRT,
            T_DENOISED, T_NOISE, T_PCAN, T_LOG]
    interp = tflm_with_outputs(outs)
    interp.reset()
    fe = AudioFrontend()
    fe.reset()
    for f in range(frame_count(len(samples))):
        run(interp, x[f * 320:f * 320 + 480].reshape(1, 480))
        ref = [interp.get_output(i).tolist() for i in range(len(outs))]
        fe.process(samples, f * 320)
        spectrum = [v for pair in zip(fe.spectrum_re, fe.spectrum_im) for v in pair]
        ours = [list(fe.features), list(fe.windowed[:480]), fe.scale_bits, spectrum, fe.energy,
                fe.filterbank, fe.amplitude, fe.denoised, fe.noise, fe.gained, fe.log]
        for tensor, r, o in zip(outs, ref, ours):
            assert r == o, "frame %d, tensor %d" % (f, tensor)


def test_reset_forgets_the_noise_estimate():
    yes, noise_clip = read_wav("yes_1000ms"), read_wav("noise_1000ms")
    fe = AudioFrontend()
    fresh = bytes(fe.clip_features(yes))
    fe.clip_features(noise_clip)
    assert bytes(fe.clip_features(yes)) == fresh
    # without a reset, the noise estimate carries over and the features change
    fe.clip_features(noise_clip)
    assert bytes(fe.process(yes)) != fresh[:40]


def test_frame_count():
    assert [frame_count(n) for n in (0, 479, 480, 799, 800, 16000)] == [0, 0, 1, 1, 2, 49]


# -- single stages on inputs the recordings never produce ------------------------

RNG = np.random.default_rng(20261122)


def _hostile_frames():
    """Full-scale noise, square waves, -32768 runs, a lone -32768, silence, one LSB."""
    frames = [RNG.integers(-32768, 32768, 480, dtype=np.int16) for _ in range(12)]
    frames.append(np.full(480, -32768, dtype=np.int16))
    frames.append(np.tile(np.array([32767, -32768], dtype=np.int16), 240))
    frames.append(np.tile(np.array([32767] * 4 + [-32768] * 4, dtype=np.int16), 60))
    lone = np.zeros(480, dtype=np.int16)
    lone[240] = -32768
    frames.append(lone)
    # MaxAbs16 keeps its peak in an int16: -32768 wraps it, later small samples win
    quirk = np.full(480, 8, dtype=np.int16)
    quirk[240] = -32768
    frames.append(quirk)
    # A complex square wave at one bin: its fundamental (4/pi * 32767) outgrows
    # int16 in the last radix-4 stage, so the butterflies' int16 wraps matter.
    for k in (1, 8, 37):
        n = np.arange(240)
        sq = np.zeros(480, dtype=np.int16)
        sq[0::2] = np.where(np.cos(2 * np.pi * k * n / 256) >= 0, 32767, -32767)
        sq[1::2] = np.where(np.sin(2 * np.pi * k * n / 256) >= 0, 32767, -32767)
        frames.append(sq)
    frames.append(np.zeros(480, dtype=np.int16))
    one = np.zeros(480, dtype=np.int16)
    one[100] = 1
    frames.append(one)
    frames.append(RNG.integers(-3, 4, 480, dtype=np.int16))
    return frames


def test_window_and_auto_scale_equal_tflm_on_hostile_input():
    interp = tflm_cut(0, 2, [T_AUDIO], [T_SCALED, T_SCALE_BITS])
    fe = AudioFrontend()
    p = fe.params
    for i, frame in enumerate(_hostile_frames()):
        run(interp, frame.reshape(1, 480))
        buf = [0] * 480
        bits = once(window_pass([array.array("h", frame.tobytes())], p.WINDOW, p.WINDOW_SHIFT, buf), 0)
        assert (buf, bits) == (interp.get_output(0).tolist(), int(interp.get_output(1))), "frame %d" % i


def test_fft_equals_tflm_kissfft_on_full_scale_input():
    """Random full-range int16 overflows KissFFT's int16 butterflies: the wraps must match too."""
    interp = tflm_cut(3, 3, [T_SCALED], [T_RFFT])
    p = AudioFrontend().params
    fft = Rfft16(p.FFT_LENGTH, p.FFT_TW_RE, p.FFT_TW_IM, p.FFT_SUPER_RE, p.FFT_SUPER_IM)
    re, im = [0] * 257, [0] * 257
    x = [0] * 512
    passes = fft.passes(x, re, im)
    next(passes)
    for i, frame in enumerate(_hostile_frames()):
        run(interp, frame)
        x[:480] = frame.tolist()
        next(passes)
        ours = [v for pair in zip(re, im) for v in pair]
        assert ours == interp.get_output(0).tolist(), "frame %d" % i


def test_fft_rejects_lengths_it_does_not_implement():
    with pytest.raises(ValueError, match="2 \\* 4\\*\\*k"):
        Rfft16(256, [0] * 128, [0] * 128, [0] * 64, [0] * 64)


def test_filterbank_and_sqrt_equal_tflm_on_extreme_energies():
    interp = tflm_cut(9, 10, [T_ENERGY_U32, T_SCALE_BITS], [T_FILTERBANK, T_SQRT])
    p = AudioFrontend().params
    for i in range(20):
        energy = RNG.integers(0, 2**32, 257, dtype=np.uint64).astype(np.uint32)
        if i % 4 == 0:
            energy[:] = 2**32 - 1
        elif i % 4 == 1:
            energy = RNG.integers(0, 4, 257, dtype=np.uint32)
        bits = np.array(i % 15, dtype=np.int32)
        run(interp, energy, bits)
        hi, lo, amp = [0] * 40, [0] * 40, [0] * 40
        once(fb_stage.filterbank_pass(energy.tolist(), p.FB_WEIGHTS, p.FB_UNWEIGHTS, p.FB_FREQ_STARTS,
                                      p.FB_WEIGHT_STARTS, p.FB_WIDTHS, 40, hi, lo))
        once(fb_stage.sqrt_pass(hi, lo, 40, amp), int(bits))
        fb = [h * 2**fb_stage.LIMB + v for h, v in zip(hi, lo)]
        assert fb == interp.get_output(0).tolist(), "case %d" % i
        assert amp == interp.get_output(1).tolist(), "case %d" % i


def test_sqrt_from_limbs_equals_tflm_at_every_boundary():
    """Sqrt32/Sqrt64 rounding and saturation (0xFFFF below 2**32, 0xFFFFFFFF above) from the two limbs."""
    interp = tflm_cut(10, 10, [T_FILTERBANK, T_SCALE_BITS], [T_SQRT])
    xs = {v for k in range(64) for v in (2**k - 1, 2**k, 2**k + 1)}
    for r in (0xFFFE, 0xFFFF, 0x10000, 2**24 + 3, 0xFFFFFFFE, 0xFFFFFFFF):
        xs |= {r * r - 1, r * r, r * r + 1, r * r + r, r * r + r + 1}
    xs = sorted(v for v in xs if 0 <= v < 2**64)
    xs += RNG.integers(0, 2**63, 40 * 5, dtype=np.uint64).tolist()
    xs += [0] * (-len(xs) % 40)
    for i in range(0, len(xs), 40):
        chunk = xs[i:i + 40]
        for bits in (0, 5):
            run(interp, np.array(chunk, dtype=np.uint64), np.array(bits, dtype=np.int32))
            hi = [v >> fb_stage.LIMB for v in chunk]
            lo = [v & (2**fb_stage.LIMB - 1) for v in chunk]
            out = [0] * 40
            once(fb_stage.sqrt_pass(hi, lo, 40, out), bits)
            assert out == interp.get_output(0).tolist(), "inputs %s" % chunk


def test_pcan_gain_never_leaves_a_small_int_nor_goes_negative():
    """pcan_pass skips C's uint32 view of the gain and boxes nothing: true for every noise estimate."""
    lut = AudioFrontend().params.PCAN_LUT
    for interval in range(2, 33):  # every uint32 noise estimate > 2 falls in one of these
        base = 4 * interval - 6
        for frac in range(1024):
            a = (lut[base + 2] * frac) >> 5
            b = a + (lut[base + 1] << 5)
            c = b * frac
            gain = ((c + (1 << 14)) >> 15) + lut[base]
            assert max(abs(a), abs(b), abs(c), abs(gain)) < 2**28 and 0 <= gain < 2**15
    assert min(lut[:3]) >= 0


def test_noise_reduction_pcan_and_log_equal_tflm_over_a_long_random_sequence():
    """Spectral subtraction state over 200 frames of wild amplitudes, then PCAN and log."""
    interp = tflm_cut(11, 13, [T_SQRT], [T_DENOISED, T_NOISE, T_PCAN, T_LOG])
    interp.reset()
    p = AudioFrontend().params
    est = [0] * 40
    a, den, gained, logs = [0] * 40, [0] * 40, [0] * 40, [0] * 40
    stages = [noise.spectral_subtraction_pass(p, a, 40, est, den),
              noise.pcan_pass(p.PCAN_LUT, p.PCAN_SNR_SHIFT, est, den, 40, gained),
              logscale.log_pass(gained, 40, p.LOG_CORRECTION_BITS, p.LOG_OUTPUT_SCALE, p.LOG_LUT, logs)]
    for g in stages:
        next(g)
    for f in range(200):
        hi = [2**8, 2**16, 2**22, 2**32][f % 4]
        amp = RNG.integers(0, hi, 40, dtype=np.uint64).astype(np.uint32)
        run(interp, amp)
        a[:] = amp.tolist()
        for g in stages:
            next(g)
        ref = [interp.get_output(i).tolist() for i in range(4)]
        assert [den, est, gained, logs] == ref, "frame %d" % f


def test_log_equals_tflm_at_every_power_of_two_boundary():
    interp = tflm_cut(13, 13, [T_PCAN], [T_LOG])
    p = AudioFrontend().params
    xs = sorted({v & 0xFFFFFFFF for k in range(33) for v in (2**k - 1, 2**k, 2**k + 1)})
    xs += RNG.integers(0, 2**32, 40 * 20, dtype=np.uint64).tolist()
    xs += [0] * (-len(xs) % 40)
    for i in range(0, len(xs), 40):
        chunk = xs[i:i + 40]
        run(interp, np.array(chunk, dtype=np.uint32))
        out = [0] * 40
        once(logscale.log_pass(chunk, 40, p.LOG_CORRECTION_BITS, p.LOG_OUTPUT_SCALE, p.LOG_LUT, out))
        assert out == interp.get_output(0).tolist(), "inputs %s" % chunk


def test_int8_tail_equals_tflm_over_the_whole_log_range():
    interp = tflm_cut(14, 21, [T_LOG], [T_OUT])
    p = AudioFrontend().params
    for start in range(0, 32768, 40 * 64):
        for k in range(64):
            chunk = [min(start + k * 40 + j, 32767) for j in range(40)]
            run(interp, np.array(chunk, dtype=np.int16))
            out = array.array("b", bytes(40))
            once(logscale.int8_pass(p, chunk, 40, out))
            assert bytes(out) == interp.get_output(0).tobytes()


# -- the parameter file ----------------------------------------------------------

def test_committed_parameter_module_and_tables_are_what_the_model_gives():
    from edgeloop.convert.audio_params import extract, render, render_tables
    committed = ROOT / "firmware" / "edgeloop_fw" / "audio" / "micro_speech_params.py"
    p = extract(MODEL)
    assert committed.read_text() == render(p)
    assert committed.with_suffix(".bin").read_bytes() == render_tables(p)


def test_loaded_tables_are_the_models_values():
    """What the board reads from the table file equals the graph's tensors and the derived tables."""
    from edgeloop.convert.audio_params import extract
    p = extract(MODEL)
    fe = AudioFrontend().params
    assert list(fe.WINDOW) == p["window"] and list(fe.PCAN_LUT) == p["pcan_lut"]
    assert list(fe.FB_WEIGHTS) == p["fb_weights"] and list(fe.FB_WIDTHS) == p["fb_widths"]
    assert [v for pair in zip(fe.FFT_TW_RE, fe.FFT_TW_IM) for v in pair] == p["fft_twiddles"]
    assert [v for pair in zip(fe.FFT_SUPER_RE, fe.FFT_SUPER_IM) for v in pair] == p["fft_super_twiddles"]
    assert list(fe.LOG_LUT) == p["log_lut"] and fe.SS_SMOOTHING == 409


def _module(tmp_path, name="p"):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, tmp_path / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_short_or_stale_table_file_is_refused(tmp_path):
    from edgeloop.convert.audio_params import write_params
    from edgeloop_fw.audio import params
    write_params(MODEL, tmp_path / "p.py")
    assert list(params.load(_module(tmp_path)).WINDOW)[:4] == [0, 0, 1, 2]
    blob = (tmp_path / "p.bin").read_bytes()
    (tmp_path / "p.bin").write_bytes(blob[:-2])
    with pytest.raises(ValueError, match="shorter than its module says"):
        params.load(_module(tmp_path))
    old = (tmp_path / "p.py").read_text().replace("FORMAT_VERSION = 3", "FORMAT_VERSION = 2")
    (tmp_path / "p.py").write_text(old)
    with pytest.raises(ValueError, match="regenerate"):
        params.load(_module(tmp_path))


def test_parameters_match_the_graph():
    from edgeloop.convert.audio_params import extract
    p = extract(MODEL)
    assert (p["frame_length"], p["fft_length"], p["num_channels"]) == (480, 512, 40)
    assert (p["energy_start"], p["energy_end"]) == (5, 241)
    assert len(p["fb_weights"]) == 316 and len(p["pcan_lut"]) == 125
    assert (p["out_mul"], p["out_add"], p["out_div"], p["out_offset"]) == (256, 333, 666, -128)


def test_write_params_leaves_nothing_half_written(tmp_path):
    from edgeloop.convert.audio_params import write_params
    out = write_params(MODEL, tmp_path / "p.py")
    assert out.read_text().startswith('"""micro_speech')
    assert sorted(tmp_path.iterdir()) == [out.with_suffix(".bin"), out]
    assert "TABLE_FILE = 'p.bin'" in out.read_text()


@pytest.mark.parametrize("make, message", [
    (lambda d: d.joinpath("x.tflite").write_bytes(b"not a model") and d / "x.tflite", "cannot read"),
    (lambda d: d / "missing.tflite", "cannot read"),
    (lambda d: DATA.parent / "hello_world" / "hello_world_int8.tflite", "expected SignalWindow"),
])
def test_bad_models_get_one_clear_line(tmp_path, make, message):
    from edgeloop.convert.audio_params import write_params
    from edgeloop.errors import ModelError
    with pytest.raises(ModelError, match=message) as e:
        write_params(make(tmp_path), tmp_path / "p.py")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "p.py").exists() and not (tmp_path / "p.bin").exists()


# -- end to end: our features through edgeloop's own int8 runtime ------------------

LABELS = ("silence", "unknown", "yes", "no")
EXPECTED = {"yes_1000ms": "yes", "no_1000ms": "no", "silence_1000ms": "silence", "noise_1000ms": "silence"}


@pytest.fixture(scope="module")
def speech_model():
    from edgeloop.convert.int8 import convert_tflite
    return convert_tflite(DATA / "micro_speech_quantized.tflite")


@pytest.mark.parametrize("clip", CLIPS)
def test_features_through_edgeloop_runtime_give_tflms_output_bytes(speech_model, clip):
    """Audio -> our front end -> edgeloop runtime equals audio -> TFLM -> TFLM, byte for byte."""
    import io

    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    samples = read_wav(clip)
    ours = AudioFrontend().clip_features(samples)
    interp = Interpreter(Model(io.BytesIO(speech_model.data)))
    interp.set_input(ours)
    interp.invoke()
    got = interp.get_output()

    x = np.frombuffer(samples, dtype=np.int16)
    pre = tflm_with_outputs([T_OUT])
    pre.reset()
    ref_feats = []
    for f in range(49):
        run(pre, x[f * 320:f * 320 + 480].reshape(1, 480))
        ref_feats.append(pre.get_output(0).astype(np.int8))
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    kws = runtime.Interpreter.from_file(str(DATA / "micro_speech_quantized.tflite"))
    run(kws, np.concatenate(ref_feats).reshape(1, 1960))
    want = kws.get_output(0).astype(np.int8).tobytes()
    assert got == want
    assert LABELS[int(np.argmax(np.frombuffer(got, np.int8)))] == EXPECTED[clip]


def test_first_fft_stage_shortcut_is_exact():
    """fft.py skips C_MUL by twiddle 0 = (32767, 0) in the first stage: an identity for |v| <= 8191."""
    assert all((v * 32767 + 16384) >> 15 == v for v in range(-8192, 8193))
    assert max(abs((v * 8191 + 16384) >> 15) for v in range(-32768, 32768)) == 8191


def test_convert_audio_frontend_writes_the_committed_parameters(tmp_path):
    """`edgeloop convert --audio-frontend` is how the committed parameter files are made."""
    from click.testing import CliRunner

    from edgeloop.cli import cli

    out = tmp_path / "micro_speech_params.py"
    r = CliRunner().invoke(cli, ["convert", str(MODEL), "--audio-frontend", "-o", str(out)])
    assert r.exit_code == 0, r.output
    committed = ROOT / "firmware" / "edgeloop_fw" / "audio" / "micro_speech_params.py"
    assert out.read_text() == committed.read_text()
    assert out.with_suffix(".bin").read_bytes() == committed.with_suffix(".bin").read_bytes()
