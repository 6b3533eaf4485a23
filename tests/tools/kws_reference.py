"""TFLM's RecognizeCommands (average over a window, threshold, suppression) written out
from its description on whole arrays: the independent reference the board's spotter and
the keyword demo's detections are checked against.
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
