"""Continuous keyword spotting (firmware/edgeloop_fw/kws.py) under CPython.

The stream is TFLM's real recordings back to back (silence, yes, silence,
no, noise, yes, silence: 7 s). References, none of them kws.py itself:
- features: TFLM's audio preprocessor run over the stream frame by frame,
  never reset (a live stream carries the noise estimate along);
- per-window model outputs: TFLM running micro_speech_quantized.tflite on
  each 49-frame window of those features;
- smoothing and decisions: RecognizeCommands re-implemented below from
  TFLM's description (queue of timed results, average, minimum count,
  threshold, suppression), in floats over numpy arrays;
- timing: where each recording sits in the stream.
"""

from __future__ import annotations

import io
import wave
from array import array

import numpy as np
import pytest

from edgeloop_fw import protocol as P
from edgeloop_fw.kws import KeywordSpotter

from tests.tools.kws_reference import recognize, tflm_stream_features
from tests.tools.runtime_helpers import DATA, SPEECH, need

MS = DATA / "tflm" / "micro_speech"
PARTS = ("silence", "yes", "silence", "no", "noise", "yes", "silence")
CLASSES = ["silence", "unknown", "yes", "no"]


def read(name: str) -> np.ndarray:
    with wave.open(str(need(MS / f"{name}_1000ms.wav"))) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def stream() -> np.ndarray:
    return np.concatenate([read(p) for p in PARTS])


def spotter(every=4, **kw):
    from edgeloop.convert.int8 import convert_tflite
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    blob = convert_tflite(need(SPEECH)).data
    return KeywordSpotter(Interpreter(Model(io.BytesIO(blob))), CLASSES, every=every, **kw)


@pytest.fixture(scope="module")
def run():
    """Feed the stream in uneven chunks (as capture blocks arrive) and record every inference."""
    x = stream()
    rows, detections = [], []

    def listener(k, found):
        rows.append((k.time_ms(), bytes(k.output)))
        if found >= 0:
            detections.append((k.detected_ms, k.classes[found], k.detected_score))

    k = spotter(every=4, listener=listener)
    samples = array("h", x.astype("<i2").tobytes())
    chunks = [137, 320, 1000, 77, 2048]
    at, i = 0, 0
    while at < len(samples):
        n = min(chunks[i % len(chunks)], len(samples) - at)
        k.feed(samples, at, n)
        at += n
        i += 1
    return x, k, rows, detections


@pytest.mark.slow
def test_every_window_output_equals_tflm_on_tflm_stream_features(run):
    x, k, rows, _ = run
    feats = tflm_stream_features(x)
    model = pytest.importorskip("tflite_micro.python.tflite_micro.runtime").Interpreter.from_file(str(SPEECH))
    frames = len(feats)
    expected_ends = list(range(48, frames, 4))  # first full second, then every 4th frame
    assert [t for t, _ in rows] == [f * 20 + 30 for f in expected_ends]
    for (t, out), end in zip(rows, expected_ends):
        model.set_input(feats[end - 48:end + 1].reshape(1, 1960), 0)
        model.invoke()
        assert out == model.get_output(0).astype(np.int8).tobytes(), f"window ending at {t} ms"


@pytest.mark.slow
def test_detections_follow_recognize_commands_and_land_on_the_words(run):
    _, k, rows, detections = run
    times = [t for t, _ in rows]
    scores = np.array([[b ^ 0x80 for b in out] for _, out in rows], np.uint8)  # int8 + 128
    ref = [(t, CLASSES[c], s) for t, c, s in recognize(times, scores) if CLASSES[c] not in ("silence", "unknown")]
    assert detections == ref
    # yes at 1-2 s, no at 3-4 s, yes at 5-6 s; the average trails the word by up to a second.
    assert [w for _, w, _ in detections] == ["yes", "no", "yes"]
    for (t, word, score), start in zip(detections, (1000, 3000, 5000)):
        assert start + 300 <= t <= start + 2000, (word, t)
        assert score > 200
    assert k.detections == 3


def test_nothing_is_detected_before_a_full_second_or_in_silence():
    k = spotter(every=2)
    x = np.concatenate([read("silence"), read("noise")])
    assert k.feed(array("h", x.astype("<i2").tobytes())) == -1
    frames = 1 + (len(x) - 480) // 320  # 99
    assert k.detections == 0 and k.inferences == (frames - 49) // 2 + 1


def test_suppression_and_threshold_on_made_up_scores():
    """Hand-checked decisions: scores pushed straight into the smoother."""
    k = spotter(every=1, average_ms=100, minimum_count=2, suppression_ms=200, threshold=200)
    # (time ms, int8 output), yes = class 2; average over the results of the last 100 ms.
    steps = [
        (0, [-128, -128, 100, -128], -1),    # one result: below minimum_count
        (20, [-128, -128, 100, -128], -1),   # 2 results but only 20 ms < 100 / 4 of history
        (40, [-128, -128, 100, -128], 2),    # avg 228 > 200: yes (first time)
        (60, [-128, -128, 100, -128], -1),   # same class within 200 ms: suppressed
        (300, [-128, -128, 100, -128], -1),  # alone in its window again (others older than 100 ms)
        (320, [-128, -128, 100, -128], -1),  # 20 ms of history
        (340, [-128, -128, 100, -128], 2),   # 300 ms since the last yes > 200: reported again
        (360, [-128, -128, 60, 80], -1),     # yes avg (228*3+188)/4 = 218 still top: suppressed
        (380, [-128, -128, -128, 127], -1),  # 300..380: yes (228*3+188)/5 = 174 top, < 200
        (400, [-128, -128, -128, 127], -1),  # 300..400: yes 145, no (208+255*2)/6 = 119
        (420, [-128, -128, -128, 127], -1),  # 320..420: no 162 top, < 200
        (440, [-128, -128, -128, 127], 3),   # 340..440: no (208+255*4)/6 = 204 > 200, a new class
    ]
    for t, out, want in steps:
        for i, v in enumerate(out):
            k.output[i] = v & 0xFF
        assert k._decide(t) == want, (t, list(k.average))


def test_detection_travels_as_a_detection_frame():
    """Decoded with the protocol's own decoder, whose layout the independent vectors pin."""
    k = spotter()
    k.detected, k.detected_score, k.detected_ms, k.detected_window = 2, 230, 1530, 77
    enc = P.FrameEncoder(256)
    frame = bytes(enc.wire[:k.encode_detection(enc, 2430, b"abcd1234")])
    kind, _seq, t, payload = P.frame_decode(frame[:-1])
    assert kind == P.MSG_DETECTION and t == 2430
    assert P.decode_payload(kind, payload) == {"class_index": 2, "score": 230 * 257, "time_ms": 1530,
                                               "window_index": 77, "model_hash": "abcd1234"}
    assert P.decode_payload(kind, P.frame_decode(bytes(enc.wire[:k.encode_detection(
        enc, 2431, b"", window_index=80)])[:-1])[3])["window_index"] == 80


@pytest.mark.slow
def test_detection_window_is_the_frame_count_at_the_decision(run):
    _, k, rows, detections = run
    assert k.detected_ms == k.time_ms(k.detected_window - 1)  # frame k-1 ends at (k-1)*20+30 ms
    assert k.detected_ms == detections[-1][0]


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="every >= 1"):
        spotter(every=0)
    with pytest.raises(ValueError, match="class names"):
        KeywordSpotter(spotter().interpreter, ["a", "b"])
