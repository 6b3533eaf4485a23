"""TFLM's RecognizeCommands (average over a window, threshold, suppression) written out
from its description on whole arrays: the independent reference the board's spotter and
the keyword demo's detections are checked against; and TFLM's own audio front end
(audio_preprocessor_int8.tflite) over a whole stream, the features the board's must equal.
"""

from __future__ import annotations

import numpy as np


def recognize(times, scores, average_ms=1000, threshold=200, suppression_ms=1500, minimum_count=3):
    """RecognizeCommands as TFLM describes it, on (time, uint8 scores) results; returns (time, class, score)."""
    found, prev_top, prev_time = [], None, None
    for i, now in enumerate(times):
        keep = [j for j in range(i + 1) if now - times[j] <= average_ms]
        if len(keep) < minimum_count or now - times[keep[0]] < average_ms // 4:
            continue
        avg = np.floor(scores[keep].astype(np.int64).sum(axis=0) / len(keep)).astype(int)
        top = int(avg.argmax())
        since = np.inf if prev_top is None else now - prev_time
        if avg[top] > threshold and (top != prev_top or since > suppression_ms):
            prev_top, prev_time = top, now
            found.append((now, top, int(avg[top])))
    return found


def tflm_stream_features(x: np.ndarray) -> np.ndarray:
    """TFLM's preprocessor over an int16 stream, stateful as the board's front end: one row of
    40 int8 features per 20 ms hop of 30 ms windows."""
    import pytest

    from tests.tools.runtime_helpers import DATA, need

    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    pre = runtime.Interpreter.from_file(str(need(DATA / "tflm" / "micro_speech" / "audio_preprocessor_int8.tflite")))
    frames = 1 + (len(x) - 480) // 320
    out = np.zeros((frames, 40), np.int8)
    for f in range(frames):
        pre.set_input(x[f * 320:f * 320 + 480].reshape(1, 480).astype(np.int16), 0)
        pre.invoke()
        out[f] = pre.get_output(0).reshape(-1)
    return out
