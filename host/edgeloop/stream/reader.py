"""Incremental frame parser: bytes in, decoded frames and loss counts out.

The serial port hands over arbitrary chunks, so the reader keeps the partial
frame between calls. Frames end at 0x00 (COBS guarantees no other zero), so
after any corruption the next delimiter is a clean restart: at most the frame
that was hit is lost, and it is counted, never skipped silently. A stream
with no delimiter at all (a board printing text forever) cannot grow the
buffer past the largest legal frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from edgeloop_fw import protocol as P

# The longest COBS frame a legal message can take; anything longer is junk.
MAX_WIRE = P.cobs_max_size(P.HEADER_SIZE + P.MAX_PAYLOAD + P.CRC_SIZE)


class Frame(NamedTuple):
    msg_type: int
    seq: int
    t_ms: int
    payload: bytes | memoryview
    wire_size: int  # bytes on the wire, delimiter included


@dataclass
class LossCounts:
    """What the link lost; `dropped` are frames missing from the sequence."""

    frames: int = 0
    bytes: int = 0
    dropped: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: {
        "cobs": 0, "length": 0, "crc": 0, "version": 0, "type": 0, "payload": 0, "overlong": 0})
    last_error: str = ""

    @property
    def corrupt(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict:
        return {"frames": self.frames, "bytes": self.bytes, "dropped": self.dropped,
                "corrupt": self.corrupt, **{f"rejected_{k}": v for k, v in self.rejected.items()}}


class FrameReader:
    """Feed it bytes as they arrive; it returns every frame that checks out."""

    def __init__(self):
        self._pending = b""
        self._discarding = False  # inside an overlong run: drop until the next delimiter
        self._next_seq: int | None = None
        self.counts = LossCounts()

    def reset_sequence(self) -> None:
        """Forget the expected seq (the board restarted; its counter starts again)."""
        self._next_seq = None

    def feed(self, data: bytes) -> list[Frame]:
        self.counts.bytes += len(data)
        if not data:
            return []
        buf = self._pending + data if self._pending else bytes(data)
        parts = buf.split(b"\x00")
        tail = parts.pop()  # bytes after the last delimiter: an unfinished frame
        out: list[Frame] = []
        for part in parts:
            if self._discarding:
                self._discarding = False
                continue
            if part:
                self._one(part, out)
        if len(tail) > MAX_WIRE:
            if not self._discarding:
                self._reject("overlong", f"{len(tail)} bytes without a frame delimiter")
            self._discarding = True
            tail = b""
        self._pending = tail
        return out

    def _one(self, part: bytes, out: list[Frame]) -> None:
        if len(part) > MAX_WIRE:
            self._reject("overlong", f"frame of {len(part)} bytes exceeds {MAX_WIRE}")
            return
        try:
            msg_type, seq, t_ms, payload = P.frame_decode(part)
        except P.ProtocolError as e:
            self._reject(e.kind, str(e))
            return
        if msg_type == P.MSG_HELLO:
            self._next_seq = None
        if self._next_seq is not None and seq != self._next_seq:
            self.counts.dropped += (seq - self._next_seq) & 0xFFFF
        self._next_seq = (seq + 1) & 0xFFFF
        self.counts.frames += 1
        out.append(Frame(msg_type, seq, t_ms, payload, len(part) + 1))

    def _reject(self, kind: str, message: str) -> None:
        self.counts.rejected[kind] = self.counts.rejected.get(kind, 0) + 1
        self.counts.last_error = message
