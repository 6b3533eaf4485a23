"""Shared bits of the runtime tests: where the reference models are, TFLM, our interpreter."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from tests.tools.paths import SHARED_DATA

DATA = SHARED_DATA
HELLO = DATA / "tflm" / "hello_world" / "hello_world_int8.tflite"
SPEECH_DIR = DATA / "tflm" / "micro_speech"
SPEECH = SPEECH_DIR / "micro_speech_quantized.tflite"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (../shared/data is not checked out here)")
    return path


def tflm(path: Path):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    return runtime.Interpreter.from_file(str(path))


def tflm_run(interp, x: np.ndarray) -> np.ndarray:
    # TFLM carries an LSTM's state from one invoke to the next; edgeloop starts every
    # inference afresh, as a Keras layer that is not stateful does: TFLM after a reset.
    interp.reset()
    interp.set_input(x, 0)  # TFLM overwrites its input during invoke: set it every time
    interp.invoke()
    return interp.get_output(0).copy()


def edgeloop_interpreter(blob: bytes):
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model
    return Interpreter(Model(io.BytesIO(blob)))


def edgeloop_run(interp, x: np.ndarray) -> np.ndarray:
    interp.set_input(np.ascontiguousarray(x, np.int8).tobytes())
    interp.invoke()
    t = interp.model.outputs[0]
    return np.frombuffer(interp.get_output(), np.int8).reshape(t.shape)


CLIPS = ("yes", "no", "silence", "noise")


def speech_features(clip: str) -> np.ndarray:
    """49x40 int8 features of a 1 s recording, made by TFLM's own audio preprocessor.

    30 ms windows (480 samples) every 20 ms (320), the preprocessor reset per
    clip (it carries a noise estimate from frame to frame).
    """
    import wave

    path = need(SPEECH_DIR / f"{clip}_1000ms.wav")
    with wave.open(str(path)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    pre = tflm(need(SPEECH_DIR / "audio_preprocessor_int8.tflite"))
    pre.reset()
    frames = []
    for start in range(0, len(audio) - 480 + 1, 320):
        pre.set_input(audio[start:start + 480].reshape(1, 480), 0)
        pre.invoke()
        frames.append(pre.get_output(0).copy())
    assert len(frames) == 49
    return np.stack(frames).astype(np.int8).reshape(1, 1960)
