"""What the live view shows, updated frame by frame; no I/O, no rich."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from edgeloop_fw import protocol as P


@dataclass
class LiveStats:
    hello: dict | None = None
    last_inference: dict | None = None
    last_status: dict | None = None
    inferences: int = 0
    detections: int = 0
    kept: int = 0  # windows the board's capture rules kept (live or from its ring)
    recent_detections: deque = field(default_factory=lambda: deque(maxlen=5))  # (host time, fields)
    samples: int = 0
    connected: bool = False
    disconnects: int = 0
    reconnects: int = 0
    events: deque = field(default_factory=lambda: deque(maxlen=5))
    plot_len: int = 120
    channels: list = field(default_factory=list)  # one deque of recent values per channel
    _times: deque = field(default_factory=lambda: deque(maxlen=256))

    @property
    def classes(self) -> list[str]:
        return list(self.hello.get("classes", [])) if self.hello else []

    @property
    def scale(self) -> float:
        return float(self.hello.get("scale", 1.0)) if self.hello else 1.0

    def inferences_per_s(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        recent = [t for t in self._times if now - t <= 5.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def event(self, text: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {text}")

    def on_message(self, msg_type: int, f: dict) -> None:
        if msg_type == P.MSG_HELLO:
            self.hello = f
            self.channels = [deque(maxlen=self.plot_len) for _ in range(f.get("channels", 0))]
        elif msg_type == P.MSG_INFERENCE:
            self.inferences += 1
            self.last_inference = f
            self._times.append(time.monotonic())
        elif msg_type == P.MSG_DETECTION:
            self.detections += 1
            self.recent_detections.append((time.time(), f))
        elif msg_type == P.MSG_KEPT:
            self.kept += 1
        elif msg_type == P.MSG_STATUS:
            self.last_status = f
        elif msg_type == P.MSG_SAMPLES:
            ch = f["channels"]
            data = f["data"]
            self.samples += len(data) // ch
            if len(self.channels) != ch:
                self.channels = [deque(maxlen=self.plot_len) for _ in range(ch)]
            keep = self.plot_len * ch  # only what the plot can show
            tail = data[-keep:] if len(data) > keep else data
            for c in range(ch):
                self.channels[c].extend(tail[c::ch])  # raw int16; the view applies the scale
        elif msg_type == P.MSG_LOG:
            self.event(f"board: {f['text']}")
        elif msg_type == P.MSG_ACK and f["status"] != P.ACK_OK:
            self.event(f"board refused {P.MSG_NAMES.get(f['command'], hex(f['command']))}: {f['text']}")
