"""The second of audio behind a labelled keyword inference, rebuilt from the session's raw samples.

A keyword board attaches to each inference (`monitor --window`) the 30 ms front-end frame it
just pushed, not the second the model heard (49 frames: 15,840 samples). When the session also
streamed its raw samples (`monitor --plot`: STREAM_SAMPLES, the `samples` table), that second is
in the log: the inference's frame is the last 480 samples of it. The frame is found in the
session's sample stream by content (the board's own bytes, so no clock or index arithmetic is
trusted; when the frame occurs more than once, e.g. digital silence, the occurrence nearest
where the app's window count puts it is taken: window w (counted from 1) ends at sample
(w - 1) x 320 + 480 of the stream), and the 15,840 samples ending there are the clip, padded to one
second with zeros (the front end never reads the last 160 samples of a second).

No firmware change: the board already sends both. Windows whose second is not fully in the
log (samples not streamed, the start of a session, a gap) are counted and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .labels import labelled_hash, load_windows
from .db import open_log
from .store import LogBase

FRAME, HOP, CLIP = 480, 320, 16000
HEARD = FRAME + 48 * HOP  # 15,840 samples: the 49 frames of a model input


@dataclass
class LoggedClip:
    id: int  # the inference's id in the log
    session_id: int
    label: str
    clip: np.ndarray  # int16, CLIP samples


def _stream(store: LogBase, session_id: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(first sample index, samples, present mask) of a session's mono 16 kHz sample frames."""
    rows = store.query("SELECT sample_index, channels, data FROM samples WHERE session_id = ? "
                       "ORDER BY sample_index", (session_id,))
    rows = [r for r in rows if r["channels"] == 1 and r["data"]]
    if not rows:
        return 0, np.zeros(0, np.int16), np.zeros(0, bool)
    first = rows[0]["sample_index"]
    end = max(r["sample_index"] + len(r["data"]) // 2 for r in rows)
    x = np.zeros(end - first, np.int16)
    have = np.zeros(end - first, bool)
    for r in rows:
        d = np.frombuffer(r["data"], "<i2")
        a = r["sample_index"] - first
        x[a:a + len(d)] = d
        have[a:a + len(d)] = True
    return first, x, have


def _find(x: np.ndarray, frame: np.ndarray, expected_end: int) -> int | None:
    """End position of `frame` in `x` (nearest expected_end when it occurs more than once), or None."""
    if len(x) < len(frame):
        return None
    starts = np.flatnonzero(x[:len(x) - len(frame) + 1] == frame[0])
    ends = [int(s) + len(frame) for s in starts if np.array_equal(x[s:s + len(frame)], frame)]
    if not ends:
        return None
    return min(ends, key=lambda e: abs(e - expected_end))


def labelled_clips(db: str | Path) -> tuple[list[LoggedClip], int]:
    """The labelled keyword inferences (30 ms mono windows) whose whole second is in the log, and how
    many labelled keyword windows were left out for want of their audio."""
    windows = [w for w in load_windows(db, labelled=True) if w.raw.shape == (FRAME, 1)]
    if not windows:
        return [], 0
    out, missing = [], 0
    with open_log(db, readonly=True) as store:
        index = {r["id"]: r["window_index"] for r in store.query(
            f"SELECT id, window_index FROM inferences WHERE id IN ({','.join(str(w.id) for w in windows)})")}
        streams: dict = {}
        for w in sorted(windows, key=lambda w: w.id):
            sid = w.session_id or 0
            if sid not in streams:
                streams[sid] = _stream(store, sid)
            first, x, have = streams[sid]
            expected = ((index.get(w.id) or 1) - 1) * HOP + FRAME
            end = _find(x, w.raw[:, 0], expected)
            if end is None or end < HEARD or not have[end - HEARD:end].all():
                missing += 1
                continue
            out.append(LoggedClip(w.id, sid, w.label, np.pad(x[end - HEARD:end], (0, CLIP - HEARD))))
    return out, missing


def clips_hash(clips: list[LoggedClip]) -> str:
    """The lineage hash of logged clips (edgeloop.log.labels.labelled_hash over each clip)."""
    return labelled_hash(clips, lambda c: c.clip)
