"""Where a gateway's frames come from: a board on a port, or any iterable of frames.

A source's `run(emit, should_stop)` calls `emit(msg_type, frame_seq, t_ms, payload)` for each
good board frame, in order, from its own thread, until it ends or `should_stop()`. The gateway
learns the device id from the source's HELLO, as `monitor` does.
"""

from __future__ import annotations

from typing import Callable, Iterable

from edgeloop_fw import protocol as P

Emit = Callable[[int, int, int, bytes], None]


class IterableSource:
    """Frames from an iterable of (msg_type, frame_seq, t_ms, payload): tests, benchmarks, replays."""

    def __init__(self, frames: Iterable[tuple[int, int, int, bytes]], name: str = "frames"):
        self.frames, self.name = frames, name

    def run(self, emit: Emit, should_stop: Callable[[], bool]) -> None:
        for msg_type, seq, t_ms, payload in self.frames:
            if should_stop():
                return
            emit(msg_type, seq, t_ms, bytes(payload))


class BoardSource:
    """A board on a serial port (or a virtual board's pty), read by the stream code `monitor` uses:
    it starts the app, and reconnects when the board goes away and comes back."""

    def __init__(self, port: str, *, send_window: bool = False, link_factory=None, silence: float = 3.0,
                 retry: float = 1.0, hello_timeout: float = 5.0):
        self.port, self.name = port, port
        flags = P.STREAM_INFERENCE | P.STREAM_STATUS | (P.STREAM_WINDOW if send_window else 0)
        if link_factory is None:
            from edgeloop.stream.link import BoardLink

            link_factory = lambda: BoardLink(port, flags=flags, mode=P.MODE_INFER)  # noqa: E731
        self.link_factory, self.silence, self.retry = link_factory, silence, retry
        self.hello_timeout = hello_timeout
        self.session = None

    def run(self, emit: Emit, should_stop: Callable[[], bool]) -> None:
        from edgeloop.stream.session import StreamSession

        self.session = StreamSession(self.link_factory, None, port=self.port, silence=self.silence,
                                     retry=self.retry, hello_timeout=self.hello_timeout, on_raw=emit)
        self.session.run(should_stop=should_stop)
