"""Run a stream: read the link, parse, log to the Store, survive the board going away.

The loop owns the policy the CLI commands share: commit when the link goes
idle (so a crash loses at most the frames in flight), call a board lost after
a silence (a pty whose board died reports nothing, a USB port vanishes), retry
every `retry` seconds and carry on when it returns. The silence that counts is
`silence` seconds or PACE times the longest wait between two arrivals seen so
far, whichever is longer: a board on a busy machine (or with a slow model)
is slow, not gone, and reconnecting would interrupt the very work it is doing.
A first connection that never yields a frame is an error (wrong firmware, a
board that sends garbage); later silences are disconnects.
"""

from __future__ import annotations

import time
from typing import Callable

from edgeloop_fw import protocol as P

PACE = 3.0  # a board is lost after this many times its slowest gap between arrivals so far
HEARTBEAT = 1.0  # seconds between pings: a board with capture rules calls itself host-less without them

from ..errors import DeviceError, EdgeloopError, StreamError
from edgeloop.log.frames import store_frame
from edgeloop.log.store import Store
from .link import BoardLink, LinkLost
from .reader import FrameReader
from .stats import LiveStats


class StreamSession:
    """One monitor/record run. `link_factory()` returns an object like BoardLink."""

    def __init__(self, link_factory: Callable[[], BoardLink], store: Store | None, *, port: str = "",
                 silence: float = 3.0, retry: float = 1.0, hello_timeout: float = 5.0,
                 on_frame: Callable[[int, int, int, dict], None] | None = None,
                 on_raw: Callable[[int, int, int, bytes], None] | None = None):
        """`on_raw(msg_type, seq, t_ms, payload)`: each good frame's payload bytes as the board sent
        them (a fleet gateway forwards them unchanged)."""
        self.link_factory, self.store, self.port = link_factory, store, port
        self.on_raw = on_raw
        self.silence, self.retry, self.hello_timeout = silence, retry, hello_timeout
        self.on_frame = on_frame
        self.reader = FrameReader()
        self.stats = LiveStats()
        self._link = None
        self._ever_connected = False
        self._frames_this_link = 0
        self.first_frame_at: float | None = None  # host clock of the session's first frame
        self.slowest_gap = 0.0  # seconds: the longest wait for data once frames flowed, all links

    def silence_limit(self) -> float:
        """Seconds without a byte after which the board is called lost."""
        return max(self.silence, PACE * self.slowest_gap)

    # -- connection ---------------------------------------------------------
    def _connect(self) -> bool:
        link = self.link_factory()
        try:
            link.open()
        except (DeviceError, LinkLost, OSError) as e:
            if not self._ever_connected:
                raise
            self.stats.event(f"board not back yet: {e}")
            return False
        self._link = link
        self._opened_at = time.monotonic()
        self._last_rx = self._opened_at
        self._frames_this_link = 0
        self._next_ping = self._opened_at
        self.reader.reset_sequence()
        self.stats.connected = True
        if self._ever_connected:
            self.stats.reconnects += 1
            self.stats.event("board reconnected")
            self._log_event("reconnected", self.port)
        self._ever_connected = True
        return True

    def _drop(self, why: str) -> None:
        link, self._link = self._link, None
        self.stats.connected = False
        self.stats.disconnects += 1
        self.stats.event(f"board disconnected: {why}")
        self._log_event("disconnected", why)
        if self.store:
            self.store.flush()
        if link is not None:
            try:
                link.close(stop=False)
            except Exception:
                pass

    def _log_event(self, kind: str, detail: str) -> None:
        if self.store:
            self.store.add_event(kind, detail)
            self.store.flush()

    # -- frames -------------------------------------------------------------
    def _handle(self, data: bytes) -> None:
        now = time.time()
        for fr in self.reader.feed(data):
            try:
                f = P.decode_payload(fr.msg_type, fr.payload)
            except (P.ProtocolError, UnicodeDecodeError, IndexError) as e:
                self.reader.counts.rejected["payload"] += 1
                self.reader.counts.last_error = str(e)
                continue
            self._frames_this_link += 1
            self.stats.on_message(fr.msg_type, f)
            if self.on_raw is not None:
                self.on_raw(fr.msg_type, fr.seq, fr.t_ms, bytes(fr.payload))
            st = self.store
            if st is not None:
                if fr.msg_type == P.MSG_HELLO:
                    st.begin_session(f, self.port)
                else:
                    store_frame(st, fr.msg_type, fr.seq, fr.t_ms, f, fr.payload, now)
            if self.on_frame is not None:
                self.on_frame(fr.msg_type, fr.seq, fr.t_ms, f)

    # -- the loop -----------------------------------------------------------
    def run(self, seconds: float | None = None, *, should_stop: Callable[[], bool] = lambda: False,
            on_tick: Callable[[LiveStats], None] | None = None, tick: float = 0.1) -> LiveStats:
        """Stream until `seconds` pass or `should_stop()`; everything received is committed on return.

        `seconds` counts from the first frame, not from opening the port: starting the app
        (raw REPL, imports, loading the model) takes seconds on a small board, and a short
        take must not lose them. Until then `hello_timeout` bounds the wait.
        """
        start = time.monotonic()
        next_try = start
        next_tick = start
        self.first_frame_at = None
        try:
            self._connect()
            while not should_stop():
                now = time.monotonic()
                if seconds is not None and self.first_frame_at is not None and now - self.first_frame_at >= seconds:
                    break
                if on_tick is not None and now >= next_tick:
                    on_tick(self.stats)
                    next_tick = now + tick
                if self._link is None:
                    if now >= next_try:
                        next_try = now + self.retry
                        if self._connect():
                            continue
                    time.sleep(min(0.05, self.retry))
                    continue
                try:
                    data = self._link.read()
                except LinkLost as e:
                    self._drop(str(e))
                    next_try = time.monotonic() + self.retry
                    continue
                if data:
                    if self._frames_this_link:
                        self.slowest_gap = max(self.slowest_gap, now - self._last_rx)
                    self._last_rx = now
                    frames_before = self._frames_this_link
                    self._handle(data)
                    if self._frames_this_link > frames_before and now >= self._next_ping:
                        self._heartbeat(now)
                    if self._frames_this_link:
                        self._link.started = True  # from now on a traceback is a crash, not a failed start
                        if self.first_frame_at is None:
                            self.first_frame_at = now
                    if self.store:
                        self.store.maybe_commit()
                elif self.store:
                    self.store.flush()  # idle link: commit what we have
                if self._frames_this_link == 0:
                    # No good frame yet on this link (silent, or bytes that are not frames).
                    if now - self._opened_at > self.hello_timeout:
                        if self.stats.reconnects == 0 and self.stats.disconnects == 0:
                            raise self._no_frames_error()
                        self._drop("no frames after reconnecting")
                        next_try = now + self.retry
                elif not data and now - self._last_rx > self.silence_limit():
                    self._drop(f"silent for {self.silence_limit():.1f} s")
                    next_try = now + self.retry
        finally:
            link, self._link = self._link, None
            try:
                if link is not None:
                    # The app stops at its next block; what it sent until then (a kept window the
                    # board now calls sent, the stop's ack) is logged like the rest.
                    drained = link.close(grace=max(1.0, self.silence_limit()))
                    if drained:
                        self._handle(drained)
            finally:
                if self.store:
                    self.store.flush()
            if on_tick is not None:
                on_tick(self.stats)
        return self.stats

    def _heartbeat(self, now: float) -> None:
        """Ping the app at most once a second, and only right after a good frame arrived: the app is
        streaming then, so the bytes reach it and not a REPL (before the app starts, or after the board
        reset, a ping's bytes would be typed into the REPL: 0x01 enters the raw REPL, 0x05 paste mode).
        The board's sign that a host is attached (kept windows come live, its ring ships)."""
        self._next_ping = now + HEARTBEAT
        send = getattr(self._link, "send", None)
        if send is None:  # a test's link that only reads
            return
        try:
            send(P.CMD_PING, {"token": int(now * 1000) & 0xFFFFFFFF})
        except LinkLost as e:
            self._drop(str(e))

    def _no_frames_error(self) -> EdgeloopError:
        c = self.reader.counts
        if c.bytes == 0:
            return StreamError(f"the board at {self.port} sent nothing in {self.hello_timeout:g} s after "
                               f"starting the stream; redeploy the firmware with `edgeloop deploy --port {self.port}`")
        return StreamError(
            f"the board at {self.port} sends data that is not edgeloop frames ({c.bytes} bytes, "
            f"{c.corrupt} rejected: {c.last_error or 'no frame delimiter'}); check it runs the edgeloop "
            f"firmware (`edgeloop deploy --port {self.port}`) and that protocol versions match")
