"""`edgeloop gateway`'s loop: frames from the sources into the on-disk queue, from the queue to
the broker with QoS 1, out of the queue only when the broker acknowledged them.

Why it is built this way:
- Every frame goes through the Outbox (SQLite) before it is published: a broker that is away, or
  a gateway that is killed, costs no frame; the queue is bounded and drops its oldest (counted).
- A window of at most `window` unacknowledged messages is published in queue order; a PUBACK
  removes exactly its message. When the connection is lost the client is thrown away, with paho's
  own memory of what was in flight, and the next connection sends the queue again from its oldest
  message: a message whose PUBACK was lost goes twice (QoS 1 is at-least-once) and the collector
  stores it once by its sequence number; a message that was acknowledged is never sent again.
- One thread owns the queue and the MQTT client (paho's `loop()` is called from here); each source
  runs on its own thread and hands frames over through a thread-safe queue.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

from edgeloop_fw import protocol as P

from . import wire
from .broker import Broker, client as make_client
from .outbox import Outbox


@dataclass
class GatewayStats:
    frames: int = 0  # good frames the sources read
    queued: int = 0  # frames put in the queue (the kinds the fleet carries, of a known device)
    skipped: int = 0  # frames the fleet does not carry (features, pongs, acks)
    no_device: int = 0  # frames before the source's first HELLO, or of a device id the wire refuses
    published: int = 0
    resent: int = 0  # publishes of a message sent before (its PUBACK had not come when the link went)
    acked: int = 0
    connects: int = 0
    lost: int = 0
    dropped: int = 0  # oldest frames dropped because the queue was full (over the queue's life)
    waiting: int = 0  # frames in the queue now

    def summary(self) -> str:
        return (f"{self.frames} frames read, {self.queued} queued, {self.acked} acknowledged by the broker, "
                f"{self.waiting} still queued, {self.dropped} dropped (queue full), {self.resent} resent, "
                f"{self.no_device} without a device id, {self.skipped} not for the fleet; "
                f"connected {self.connects}x, lost the broker {self.lost}x")


class Gateway:
    def __init__(self, broker: Broker, outbox: Outbox, sources: list, *, window: int = 200, retry: float = 0.5,
                 log: Callable[[str], None] = lambda text: None):
        self.broker, self.outbox, self.sources = broker, outbox, sources
        self.window, self.retry, self.log = window, retry, log
        self.stats = GatewayStats(dropped=outbox.dropped, waiting=outbox.size)
        self._frames: queue.Queue = queue.Queue(maxsize=10_000)
        self._devices: dict[int, str | None] = {}
        self._ended: set[int] = set()
        self._stop = threading.Event()
        self._client = None
        self._connected = False
        self._inflight: dict[int, int] = {}  # mid -> outbox row id
        self._acked: list[int] = []
        self._last_sent = 0  # outbox row id of the last message published on this connection
        self._high_water = 0  # highest row id ever published

    # -- sources (their own threads) -----------------------------------------------
    def _source_thread(self, index: int, source) -> None:
        def emit(msg_type, seq, t_ms, payload):
            while not self._stop.is_set():
                try:  # a full hand-over queue holds the source back rather than drop in memory
                    self._frames.put((index, msg_type, seq, t_ms, payload), timeout=0.1)
                    return
                except queue.Full:
                    continue
        try:
            source.run(emit, self._stop.is_set)
        except Exception as e:
            self.log(f"source {getattr(source, 'name', index)} stopped: {e}")
        finally:
            self._frames.put((index, None, 0, 0, b""))  # the end of this source

    def _take_frames(self, block: float) -> None:
        items = []
        try:
            item = self._frames.get(timeout=block) if block else self._frames.get_nowait()
            while True:
                items.append(item)
                if len(items) >= 2000:
                    break
                item = self._frames.get_nowait()
        except queue.Empty:
            pass
        batch = []
        for index, msg_type, seq, t_ms, payload in items:
            if msg_type is None:
                self._ended.add(index)
                continue
            self.stats.frames += 1
            kind = wire.KINDS.get(msg_type)
            if msg_type == P.MSG_HELLO:
                try:  # a board's stream checked it already; an iterable's frames come unchecked
                    device_id = P.decode_payload(msg_type, payload).get("device_id")
                except (P.ProtocolError, UnicodeDecodeError, IndexError, ValueError) as e:
                    self.log(f"source {getattr(self.sources[index], 'name', index)}: a hello that does not "
                             f"parse ({e}); its frames are not published until a good one")
                    self._devices[index] = None
                    self.stats.no_device += 1
                    continue
                if not device_id:
                    name = str(getattr(self.sources[index], "name", index))
                    device_id = wire.fallback_device_id(self.outbox.gateway_id, name)
                    if self._devices.get(index) != device_id:
                        self.log(f"the board on {name} has no device id of its own; publishing it as {device_id}")
                try:
                    self._devices[index] = wire.check_id(device_id, "device id", wire.DEVICE_ID_MAX)
                except wire.WireError as e:
                    self._devices[index] = None
                    self.log(f"source {getattr(self.sources[index], 'name', index)}: {e}; its frames are not published")
            if kind is None:
                self.stats.skipped += 1
                continue
            device_id = self._devices.get(index)
            if device_id is None:
                self.stats.no_device += 1
                continue
            batch.append((device_id, kind, wire.raw_frame(msg_type, seq, t_ms, payload)))
        if batch:
            dropped = self.outbox.put_many(batch)
            self.stats.queued += len(batch)
            if dropped:
                self.log(f"the queue is full ({self.outbox.limit} messages): dropped the {dropped} oldest")

    # -- MQTT ---------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self.log(f"the broker {self.broker} refused the connection: {reason_code}")
            return
        self._connected = True
        self.stats.connects += 1
        self.log(f"connected to {self.broker}; {self.outbox.size} queued messages to send")

    def _connect(self) -> None:
        acked: list[int] = []
        c = make_client(f"edgeloop-gw-{self.outbox.gateway_id}", persistent=False)
        c.max_inflight_messages_set(self.window)
        c.on_connect = self._on_connect
        c.on_publish = lambda client, userdata, mid, reason_code=None, properties=None: acked.append(mid)
        try:
            c.connect(self.broker.host, self.broker.port, keepalive=15)
        except OSError as e:
            if self.stats.lost == 0 and self.stats.connects == 0:
                self.log(f"broker {self.broker} not reachable ({e}); queueing on disk, retrying every {self.retry:g} s")
            return
        self._client, self._acked = c, acked
        self._connected = False
        self._inflight.clear()
        self._last_sent = 0  # send the queue again from its oldest message

    def _lost(self, why: str) -> None:
        self.stats.lost += 1
        self.log(f"lost the broker {self.broker} ({why}); {self.outbox.size} messages queued")
        c, self._client, self._connected = self._client, None, False
        self._inflight.clear()
        try:
            c.disconnect()
        except Exception:
            pass

    def _settle(self) -> None:
        """Forget the acknowledged messages."""
        if self._acked:
            mids, self._acked[:] = list(self._acked), []
            ids = [self._inflight.pop(m) for m in mids if m in self._inflight]
            self.outbox.remove(ids)
            self.stats.acked += len(ids)

    def _send(self) -> None:
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        for row_id, topic_name, payload in self.outbox.after(self._last_sent, room):
            info = self._client.publish(topic_name, payload, qos=1)
            if info.rc != 0:
                self._lost(f"publish failed ({info.rc})")
                return
            self._inflight[info.mid] = row_id
            self._last_sent = row_id
            self.stats.published += 1
            if row_id <= self._high_water:
                self.stats.resent += 1
            self._high_water = max(self._high_water, row_id)

    # -- the loop -------------------------------------------------------------------
    def drained(self) -> bool:
        return len(self._ended) == len(self.sources) and self._frames.empty() and self.outbox.size == 0

    def run(self, seconds: float | None = None, *, should_stop: Callable[[], bool] = lambda: False,
            until_drained: bool = False) -> GatewayStats:
        """Run until `seconds`, `should_stop()`, or (with `until_drained`) every source ended and the
        broker acknowledged everything queued."""
        threads = [threading.Thread(target=self._source_thread, args=(i, s), daemon=True, name=f"source-{i}")
                   for i, s in enumerate(self.sources)]
        for t in threads:
            t.start()
        end = None if seconds is None else time.monotonic() + seconds
        next_try = 0.0
        try:
            while not should_stop() and (end is None or time.monotonic() < end):
                if until_drained and self.drained():
                    break
                busy = bool(self._inflight) or (self._connected and self.outbox.size)
                self._take_frames(0 if busy else 0.01)
                now = time.monotonic()
                if self._client is None:
                    if now >= next_try:
                        next_try = now + self.retry
                        self._connect()
                    continue
                rc = self._client.loop(timeout=0.01 if self._inflight else 0)
                self._settle()
                if rc != 0:
                    self._lost(f"error {rc}")
                    next_try = time.monotonic() + self.retry
                    continue
                if self._connected:
                    self._send()
        finally:
            self._stop.set()
            if self._client is not None:
                try:
                    self._client.loop(timeout=0.1)  # the last PUBACKs
                    self._settle()
                    self._client.disconnect()
                except Exception:
                    pass
            for t in threads:
                t.join(5)
            while not self._frames.empty():  # what the sources handed over last is queued, not lost
                self._take_frames(0)
            self.stats.dropped, self.stats.waiting = self.outbox.dropped, self.outbox.size
        return self.stats
