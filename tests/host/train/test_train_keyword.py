"""`edgeloop train keyword`: a tiny run end to end, determinism, and one-line refusals.

References: TFLM's own audio preprocessor recomputes the held-out clips'
features (not the board front end under test), TFLM runs the int8 .tflite,
and edgeloop's runtime must give the same output bytes on every clip.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop import modelinfo
from edgeloop.cli import cli
from tests.tools.runtime_helpers import DATA, need

MS = DATA / "tflm" / "micro_speech"

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def tiny_recipe(**kw):
    from edgeloop.train.keyword import KeywordRecipe

    base = dict(words=["yes", "no"], voices=4, seed=0, epochs=2, renditions=1, test_renditions=1,
                unknown_per_voice=2, augment=1, silence_fraction=0.3)
    base.update(kw)
    return KeywordRecipe(**base)


def tflm_clip_features(clip: np.ndarray) -> np.ndarray:
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    pre = runtime.Interpreter.from_file(str(need(MS / "audio_preprocessor_int8.tflite")))
    out = np.zeros((49, 40), np.int8)
    for f in range(49):
        pre.set_input(clip[f * 320:f * 320 + 480].reshape(1, 480).astype(np.int16), 0)
        pre.invoke()
        out[f] = pre.get_output(0).reshape(-1)
    return out


@pytest.mark.slow
@pytest.mark.tf
@needs_espeak
def test_tiny_run_writes_a_model_whose_int8_outputs_equal_tflm_on_held_out_clips(tmp_path):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    from edgeloop.train import keyword_data as D
    from edgeloop.train.keyword import train_keyword
    from tests.tools.runtime_helpers import edgeloop_interpreter

    out = tmp_path / "kw"
    res = train_keyword(tiny_recipe(), out, data_dir=need(MS), cache_dir=tmp_path / "cache", jobs=2)
    assert res.classes == ["silence", "unknown", "yes", "no"]
    assert not set(v.split("+")[1] for v in res.train_voices) & set(v.split("+")[1] for v in res.test_voices)
    acc = res.accuracy["held-out voices"]
    assert acc.identical_to_tflm == acc.samples > 0
    assert set(acc.overall) == {"float (TensorFlow)", "int8 TFLite (TFLM)", "edgeloop"}
    assert res.accuracy["real recordings"].samples == 4

    # The held-out clips again (same seed -> same clips), features by TFLM's preprocessor.
    _, (clips, labels, _), _, _ = D.build_clips(tiny_recipe(), D.load_backgrounds(MS), None)
    ours = edgeloop_interpreter((out / "keyword.elm").read_bytes())
    ref = runtime.Interpreter.from_file(str(out / "keyword.tflite"))
    for clip in clips:
        x = tflm_clip_features(clip)
        ref.set_input(x.reshape(1, 49, 40, 1), 0)
        ref.invoke()
        ours.set_input(x.tobytes())
        ours.invoke()
        assert ours.get_output() == ref.get_output(0).astype(np.int8).tobytes()
    card = (out / "MODEL_CARD.md").read_text()
    for needle in ["held-out voices", "real recordings", "TFLM", "arena", "MACs", *res.test_voices]:
        assert needle in card
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["classes"] == res.classes and recipe["recipe"]["seed"] == 0
    info = modelinfo.load(out)
    assert info.task == "keyword" and info.model["bytes"] == len((out / "keyword.elm").read_bytes())


@needs_espeak
def test_synthesis_and_clips_are_deterministic_with_a_seed(tmp_path):
    from edgeloop.train import keyword_data as D

    bg = D.load_backgrounds(need(MS))
    r = tiny_recipe(voices=3, unknown_per_voice=1)
    a = D.build_clips(r, bg, tmp_path / "a")
    b = D.build_clips(r, bg, None)  # no cache: espeak-ng again
    for (ca, ya, va), (cb, yb, vb) in zip(a[:2], b[:2]):
        assert len(ca) == len(cb) and all(np.array_equal(x, y) for x, y in zip(ca, cb))
        assert np.array_equal(ya, yb) and va == vb
    c = D.build_clips(tiny_recipe(voices=3, unknown_per_voice=1, seed=1), bg, tmp_path / "a")
    assert [v.name for v in c[2] + c[3]] != [v.name for v in a[2] + a[3]]


@needs_espeak
def test_front_end_features_of_a_synthetic_clip_equal_tflm(tmp_path):
    from edgeloop.train import keyword_data as D

    _, (clips, _, _), _, _ = D.build_clips(tiny_recipe(voices=2, unknown_per_voice=0), D.load_backgrounds(need(MS)), None)
    feats = D.features(clips[:2], None, jobs=1)
    for clip, f in zip(clips[:2], feats):
        assert np.array_equal(f, tflm_clip_features(clip))


def run_cli(*args):
    result = CliRunner().invoke(cli, ["train", "keyword", *args])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    return result, lines


def _refused(result, lines, *needles):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_espeak_says_how_to_install(tmp_path, monkeypatch):
    from edgeloop.train import speech

    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    result, lines = run_cli("--words", "yes,no", "--out", str(tmp_path / "o"), "--data", str(MS))
    _refused(result, lines, "apt-get install espeak-ng")
    assert not (tmp_path / "o").exists()


@needs_espeak
@pytest.mark.parametrize("args, needles", [
    (["--words", ""], ["empty"]),
    (["--words", " , "], ["empty"]),
    (["--words", "yes,n0!"], ["cannot say", "n0!"]),
    (["--words", "yes,你好"], ["cannot say"]),
    (["--words", "yes,yes"], ["twice"]),
    (["--words", "silence"], ["built-in class"]),
    (["--words", "yes", "--voice", "xx-nowhere+m3", "--voice", "en-us+f2"], ["unknown espeak-ng voice", "xx-nowhere"]),
    (["--words", "yes", "--voice", "en-us+nosuch", "--voice", "en-us+f2"], ["variant", "nosuch"]),
    (["--words", "yes", "--voices", "1"], ["at least 2 voices"]),
    (["--words", "yes,supercalifragilisticexpialidocious", "--voice", "en-us+m3", "--voice", "en-gb+f2"],
     ["supercalifragilisticexpialidocious", "1 s window"]),
])
def test_bad_input_gets_one_line_and_writes_nothing(tmp_path, args, needles):
    out = tmp_path / "o"
    result, lines = run_cli(*args, "--out", str(out), "--data", str(need(MS)), "--cache", str(tmp_path / "c"))
    _refused(result, lines, *needles)
    assert not out.exists()


@needs_espeak
def test_missing_background_recordings_are_named(tmp_path):
    result, lines = run_cli("--words", "yes", "--out", str(tmp_path / "o"), "--data", str(tmp_path))
    _refused(result, lines, "noise_1000ms.wav")
