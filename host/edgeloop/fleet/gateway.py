"""`edgeloop gateway`'s loop: frames from the sources into the on-disk queue, from the queue to
the broker with QoS 1, out of the queue only when a collector confirmed it stored them.

Why it is built this way:
- Every frame goes through the Outbox (SQLite) before it is published: a broker that is away, or
  a gateway that is killed, costs no frame; the queue is bounded and drops its oldest (counted).
- A window of at most `window` messages without PUBACK is published in queue order. A PUBACK
  only says the broker took the message; Mosquitto sends it before it saves to disk, so a broker
  that is killed loses what it acknowledged since its last save. The message therefore stays in
  the queue until the collector's confirmation (wire.decode_ack, on wire.ack_topic) names it, after
  the collector committed it; only then its row is removed.
- Sent again, same bytes and sequence, the collector's unique key making it harmless: everything
  still queued after a new connection (the client is thrown away with paho's memory of what was
  in flight, and the queue is sent again from its oldest row; a restarted gateway does the same
  from its file), and a message whose confirmation has not come `confirm_wait` seconds after its
  PUBACK (a confirmation lost on the collector's side, a broker that lost it without the gateway
  noticing). Those are resent a window at a time with a growing pause (`confirm_wait` doubled up
  to `max_backoff`) until a resent one is confirmed, so a collector that is away for hours does
  not get the queue again every few seconds, only one window per pause.
- Frames travel in batches (wire.py, version 2): consecutive frames of one board and kind wait in
  memory up to `linger` seconds (or BATCH_FRAMES frames, BATCH_BYTES bytes) and go into the queue,
  to the broker and to the collector as one message, so that every per-message cost (a queue
  row, a publish, a PUBACK, a confirmation, the collector's database round trips) is paid once per
  batch. Frames of different kinds of one board may each have an open batch, except that a hello
  or a kept window first closes every open batch of its board: the collector must see the frames
  before a hello in the session they belong to, and a kept window after the inference it joins.
  A killed gateway loses what lingered (at most `linger` seconds), as it loses what its sources
  had read and not handed over.
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

BATCH_FRAMES = 64  # frames in one message at most
BATCH_BYTES = 16_384  # bytes of frames in one message at most (one larger frame goes alone)
_CLOSE_OTHERS = (P.MSG_HELLO, P.MSG_KEPT)  # kinds whose frame must not overtake its board's others


@dataclass
class GatewayStats:
    frames: int = 0  # good frames the sources read
    queued: int = 0  # frames put in the queue (the kinds the fleet carries, of a known device)
    skipped: int = 0  # frames the fleet does not carry (features, pongs, acks)
    no_device: int = 0  # frames before the source's first HELLO, or of a device id the wire refuses
    # from here on: MQTT messages (a batch of frames each), except `confirmed`
    published: int = 0
    resent: int = 0  # publishes of a message sent before (after a reconnect, or its confirmation did not come)
    acked: int = 0  # PUBACKs from the broker (a resent message counts each time)
    acked_frames: int = 0  # the frames those PUBACKed messages carried
    confirmed: int = 0  # frames a collector confirmed it stored: they left the queue
    bad_confirmations: int = 0  # confirmations that did not parse (logged, ignored)
    connects: int = 0
    lost: int = 0
    dropped: int = 0  # oldest messages dropped because the queue was full (over the queue's life)
    waiting: int = 0  # messages in the queue now

    def summary(self) -> str:
        return (f"{self.frames} frames read, {self.queued} queued, {self.confirmed} confirmed stored by a collector; "
                f"{self.published} messages published, {self.acked} acknowledged by the broker, {self.waiting} still queued, "
                f"{self.dropped} dropped (queue full), {self.resent} resent; "
                f"{self.no_device} without a device id, {self.skipped} not for the fleet; "
                f"connected {self.connects}x, lost the broker {self.lost}x")


class Gateway:
    def __init__(self, broker: Broker, outbox: Outbox, sources: list, *, window: int = 200, retry: float = 0.5,
                 confirm_wait: float = 30.0, max_backoff: float = 600.0, linger: float = 0.05,
                 batch_frames: int = BATCH_FRAMES, batch_bytes: int = BATCH_BYTES,
                 log: Callable[[str], None] = lambda text: None):
        self.broker, self.outbox, self.sources = broker, outbox, sources
        self.linger, self.batch_frames, self.batch_bytes = linger, max(1, batch_frames), batch_bytes
        # (source index, kind) -> [device id, frames, bytes, when the first frame came]: batches
        # not yet queued, oldest first (dicts keep insertion order)
        self._open: dict[tuple[int, str], list] = {}
        self.window, self.retry, self.log = window, retry, log
        self.confirm_wait, self.max_backoff = confirm_wait, max(max_backoff, confirm_wait)
        self.stats = GatewayStats(dropped=outbox.dropped, waiting=outbox.size)
        self._frames: queue.Queue = queue.Queue(maxsize=10_000)
        self._devices: dict[int, str | None] = {}
        self._ended: set[int] = set()
        self._stop = threading.Event()
        self._client = None
        self._connected = False
        self._inflight: dict[int, tuple[int, int]] = {}  # mid -> (outbox row id, frames), published and not PUBACKed
        self._acked: list[int] = []  # mids PUBACKed, not yet settled
        self._confirmations: list[bytes] = []  # confirmation payloads received, not yet settled
        # everything published on this connection and not confirmed:
        # row id -> (device id, first sequence, count); (device id, first sequence) -> row id
        self._pending: dict[int, tuple[str, int, int]] = {}
        self._by_key: dict[tuple[str, int], int] = {}
        self._unconfirmed: dict[int, float] = {}  # row id -> its PUBACK's time, oldest first
        self._resent_rows: set[int] = set()  # resent for want of a confirmation
        self._resend_at = 0.0
        self._backoff = confirm_wait
        self._caught_up = False  # every queued row was published on this connection
        self._last_sent = 0  # outbox row id of the last message published on this connection
        self._high_water = 0  # highest row id ever published
        # A board whose publish ends the connection again and again (the broker's ACL refuses a
        # board nobody registered behind this gateway) is held back, so that it does not go first
        # after every reconnect and take the other boards' confirmations down with it:
        self._strikes: dict[str, int] = {}  # device -> connections lost with its message oldest in flight
        self._held: dict[str, float] = {}  # device -> until when its messages are not sent

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
        now = time.monotonic()
        for index, msg_type, seq, t_ms, payload in items:
            if msg_type is None:
                self._close(batch, index)
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
            self._add(batch, index, device_id, kind, msg_type, wire.raw_frame(msg_type, seq, t_ms, payload), now)
        for key in [k for k, b in self._open.items() if now - b[3] >= self.linger]:
            batch.append(self._pop(key))
        if batch:
            self._caught_up = False
            dropped = self.outbox.put_many(batch)
            self.stats.queued += sum(len(f) for _d, _k, f in batch)
            if dropped:
                self.log(f"the queue is full ({self.outbox.limit} messages): dropped the {dropped} oldest")

    def _pop(self, key) -> tuple[str, str, list]:
        device_id, frames, _n, _t = self._open.pop(key)
        return device_id, key[1], frames

    def _close(self, out: list, index: int) -> None:
        """Every open batch of source `index` into `out`, oldest first."""
        for key in [k for k in self._open if k[0] == index]:
            out.append(self._pop(key))

    def _add(self, out: list, index: int, device_id: str, kind: str, msg_type: int, frame: bytes, now: float) -> None:
        """`frame` into its open batch; batches that are full or must not wait go into `out`."""
        key = (index, kind)
        if msg_type in _CLOSE_OTHERS:
            self._close(out, index)
        b = self._open.get(key)
        if b is not None and (b[0] != device_id or b[2] + len(frame) > self.batch_bytes):
            out.append(self._pop(key))  # a new device id on this port (a hello closed it anyway), or too big
            b = None
        if b is None:
            b = self._open[key] = [device_id, [], 0, now]
        b[1].append(frame)
        b[2] += len(frame)
        if len(b[1]) >= self.batch_frames or msg_type == P.MSG_HELLO:
            out.append(self._pop(key))

    def _close_all(self) -> None:
        out = []
        for key in list(self._open):
            out.append(self._pop(key))
        if out:
            self._caught_up = False
            self.outbox.put_many(out)
            self.stats.queued += sum(len(f) for _d, _k, f in out)

    # -- MQTT ---------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self.log(f"the broker {self.broker} refused the connection: {reason_code}")
            return
        self._connected = True
        self.stats.connects += 1
        # before any publish on this connection, so no confirmation of it can come before the subscription
        client.subscribe(wire.ack_topic(self.outbox.gateway_id), qos=1)
        self.log(f"connected to {self.broker}; {self.outbox.size} queued messages to send")

    def _connect(self) -> None:
        acked: list[int] = []
        c = make_client(f"edgeloop-gw-{self.outbox.gateway_id}", persistent=False, broker=self.broker)
        c.max_inflight_messages_set(self.window)
        c.on_connect = self._on_connect
        c.on_publish = lambda client, userdata, mid, reason_code=None, properties=None: acked.append(mid)
        c.on_message = lambda client, userdata, msg: self._confirmations.append(msg.payload)
        try:
            c.connect(self.broker.host, self.broker.port, keepalive=15)
        except OSError as e:
            if self.stats.lost == 0 and self.stats.connects == 0:
                self.log(f"broker {self.broker} not reachable ({e}); queueing on disk, retrying every {self.retry:g} s")
            return
        self._client, self._acked = c, acked
        self._connected = False
        self._forget()

    def _forget(self) -> None:
        """A new connection sends the whole queue again from its oldest message, unconfirmed ones too."""
        self._inflight.clear()
        self._pending.clear()
        self._by_key.clear()
        self._unconfirmed.clear()
        self._resent_rows.clear()
        self._confirmations.clear()
        self._caught_up = False
        self._last_sent = 0
        self._resend_at, self._backoff = 0.0, self.confirm_wait

    def _suspect(self) -> None:
        """Count a lost connection against the device of the oldest message the broker had not
        PUBACKed: the broker handles a connection's messages in order, so a refused one is the
        oldest still unanswered. Twice in a row, with no PUBACK of that device between, and its
        messages are held back (2 s, doubling to 5 min); other boards' go on."""
        acked = set(self._acked)
        for mid, (row_id, _n) in self._inflight.items():  # oldest published first
            if mid in acked or row_id not in self._pending:
                continue
            device_id = self._pending[row_id][0]
            n = self._strikes[device_id] = self._strikes.get(device_id, 0) + 1
            if n >= 2:
                hold = min(2.0 * 2 ** (n - 2), 300.0)
                self._held[device_id] = time.monotonic() + hold
                self.log(f"the broker ended the connection {n} times in a row at a message of {device_id}: holding "
                         f"its messages for {hold:g} s (is it registered behind this gateway? `edgeloop fleet "
                         f"add-device {device_id} --role board --gateway {self.outbox.gateway_id}`)")
            return

    def _lost(self, why: str) -> None:
        self._suspect()
        self.stats.lost += 1
        self.log(f"lost the broker {self.broker} ({why}); {self.outbox.size} messages queued")
        c, self._client, self._connected = self._client, None, False
        self._forget()
        try:
            c.disconnect()
        except Exception:
            pass

    def _settle(self) -> None:
        """PUBACKed messages start waiting for their confirmation; confirmed ones leave the queue."""
        now = time.monotonic()
        if self._acked:
            mids, self._acked[:] = list(self._acked), []
            for mid in mids:
                row_id, frames = self._inflight.pop(mid, (None, 0))
                if row_id is None:
                    continue
                self.stats.acked += 1
                self.stats.acked_frames += frames
                if self._strikes and row_id in self._pending:
                    self._strikes.pop(self._pending[row_id][0], None)
                if row_id in self._pending:  # not confirmed already (a confirmation can overtake a PUBACK)
                    self._unconfirmed[row_id] = now
        if self._confirmations:
            payloads, self._confirmations[:] = list(self._confirmations), []
            done, frames = [], 0
            for payload in payloads:
                try:
                    ranges = wire.decode_ack(payload)
                except wire.WireError as e:
                    self.stats.bad_confirmations += 1
                    self.log(f"ignored a confirmation that does not parse: {e}")
                    continue
                for device_id, first, count in ranges:
                    if count <= len(self._by_key):
                        keys = [(device_id, s) for s in range(first, first + count)]
                    else:  # a huge range: look through what is pending instead
                        keys = [k for k in self._by_key if k[0] == device_id and first <= k[1] < first + count]
                    for key in keys:
                        row_id = self._by_key.get(key)
                        # a message is confirmed when all of its frames are (a collector confirms a
                        # message's frames together, so this is the whole batch or none of it)
                        if row_id is None or key[1] + self._pending[row_id][2] > first + count:
                            continue
                        frames += self._pending[row_id][2]
                        del self._by_key[key], self._pending[row_id]
                        self._unconfirmed.pop(row_id, None)
                        if row_id in self._resent_rows:  # the collector answers again: resend the next ones now
                            self._resent_rows.discard(row_id)
                            self._resend_at, self._backoff = 0.0, self.confirm_wait
                        done.append(row_id)
            if done:
                self.outbox.remove(done)
                self.stats.confirmed += frames

    def _publish(self, row_id: int, topic_name: str, payload: bytes) -> bool:
        info = self._client.publish(topic_name, payload, qos=1)
        if info.rc != 0:
            self._lost(f"publish failed ({info.rc})")
            return False
        first, count = wire.sequences_of(payload)
        self._inflight[info.mid] = (row_id, count)
        if row_id not in self._pending:
            device_id = topic_name.split("/", 2)[1]
            self._pending[row_id] = (device_id, first, count)
            self._by_key[(device_id, first)] = row_id
        self.stats.published += 1
        if row_id <= self._high_water:
            self.stats.resent += 1
        self._high_water = max(self._high_water, row_id)
        return True

    def _resend_unconfirmed(self, room: int) -> int:
        """Publish again the oldest messages PUBACKed `confirm_wait` ago and still unconfirmed, at
        most `room`, then pause (doubling) until one of them is confirmed; returns how many."""
        now = time.monotonic()
        if not self._unconfirmed or now < self._resend_at:
            return 0
        overdue = []
        for row_id, t in self._unconfirmed.items():  # oldest PUBACK first
            if now - t < self.confirm_wait or len(overdue) >= room:
                break
            overdue.append(row_id)
        if not overdue:
            return 0
        for row_id in overdue:
            del self._unconfirmed[row_id]
        rows = self.outbox.get(overdue)
        for row_id in set(overdue) - {r[0] for r in rows}:  # dropped by the queue's limit meanwhile
            device_id, first, _n = self._pending.pop(row_id)
            self._by_key.pop((device_id, first), None)
        self.log(f"{len(overdue)} messages not confirmed {self.confirm_wait:g} s after the broker took them: "
                 f"sending them again (next time after {self._backoff:g} s without a confirmation)")
        self._resend_at, self._backoff = now + self._backoff, min(2 * self._backoff, self.max_backoff)
        for row_id, topic_name, payload in rows:
            if not self._publish(row_id, topic_name, payload):
                return len(overdue)
            self._resent_rows.add(row_id)
        return len(rows)

    def _send(self) -> None:
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        room -= self._resend_unconfirmed(room)
        if self._held:
            now = time.monotonic()
            for device_id in [d for d, until in self._held.items() if until <= now]:
                del self._held[device_id]
                self._last_sent, self._caught_up = 0, False  # its messages are read again from the oldest
        if room <= 0 or self._client is None or self._caught_up:
            return
        rows = self.outbox.after(self._last_sent, room)
        for row_id, topic_name, payload in rows:
            # (published on this connection already: a rescan after a hold skips it)
            if row_id not in self._pending and not (self._held and topic_name.split("/", 2)[1] in self._held):
                if not self._publish(row_id, topic_name, payload):
                    return
            self._last_sent = row_id
        if len(rows) < room:
            self._caught_up = True

    # -- the loop -------------------------------------------------------------------
    def drained(self) -> bool:
        return (len(self._ended) == len(self.sources) and self._frames.empty() and not self._open
                and self.outbox.size == 0)

    def run(self, seconds: float | None = None, *, should_stop: Callable[[], bool] = lambda: False,
            until_drained: bool = False) -> GatewayStats:
        """Run until `seconds`, `should_stop()`, or (with `until_drained`) every source ended and a
        collector confirmed everything queued."""
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
                busy = bool(self._inflight) or (self._connected and not self._caught_up)
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
                    self._client.loop(timeout=0.1)  # the last PUBACKs and confirmations
                    self._settle()
                    self._client.disconnect()
                except Exception:
                    pass
            for t in threads:
                t.join(5)
            while not self._frames.empty():  # what the sources handed over last is queued, not lost
                self._take_frames(0)
            self._close_all()
            self.stats.dropped, self.stats.waiting = self.outbox.dropped, self.outbox.size
        return self.stats
