"""`edgeloop monitor --broker`: what every board of the fleet is doing now, read off the broker.

Why it is built this way:
- A watcher, not a collector: a clean (non-persistent) session under a random client id. It
  never takes the collector's id (the broker would throw the collector off) and leaves no queue
  behind in the broker when it goes. It sees what is published while it runs, nothing before.
- QoS 1 subscription: the broker does not drop messages to it, so a gap in a gateway's sequence
  numbers is a frame lost upstream (the gateway's bounded queue), not the watcher's own loss.
- The "last" values are those of the newest message (highest gateway sequence) of a device: a
  message that arrives late to fill a gap, or a redelivered one, is counted once and does not
  turn the row back in time.
- The inference rate is measured on the board's own clock (the frames' t_ms), not on arrival
  times: a gateway draining a backlog delivers minutes of inferences in a second, and the row
  should still say how fast the board infers.
- One thread: paho's loop() is called from run(), the state is only touched from there.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable

from edgeloop_fw import protocol as P

from . import wire
from .broker import Broker, BrokerError, client as make_client

RATE_WINDOW_MS = 10_000  # the board-clock span the rate is measured over
MISSING_LIMIT = 100_000  # sequence numbers remembered as missing per device and gateway


@dataclass
class DeviceRow:
    """One board as the fleet view shows it."""

    device_id: str
    gateway_id: str = ""
    classes: list = field(default_factory=list)  # from the device's hello; empty until one is seen
    top: int | None = None  # top class index of the newest inference
    inferences: int = 0
    latency_us: int | None = None
    free_heap: int | None = None
    dropped: int | None = None  # the board's own overrun count (its STATUS)
    lost: int = 0  # frames missing from the gateway's sequence (still missing now)
    duplicates: int = 0
    last_seen: float | None = None  # host time.time() of the newest message
    _times: deque = field(default_factory=deque)  # board t_ms of recent inferences

    @property
    def last_class(self) -> str | None:
        if self.top is None:
            return None
        return str(self.classes[self.top]) if self.top < len(self.classes) else str(self.top)

    def rate(self) -> float | None:
        """Inferences per second over the last RATE_WINDOW_MS of the board's clock."""
        if len(self._times) < 2:
            return None
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) * 1000.0 / span if span > 0 else None

    def _inference_time(self, t_ms: int) -> None:
        if self._times and t_ms < self._times[-1]:  # the board restarted (or its u32 clock wrapped)
            self._times.clear()
        self._times.append(t_ms)
        while self._times[-1] - self._times[0] > RATE_WINDOW_MS:
            self._times.popleft()


class _Sequences:
    """One gateway's numbering of one device: which numbers are new, which fill a gap."""

    def __init__(self):
        self.highest: int | None = None
        self.missing: set[int] = set()
        self.forgotten = 0  # gaps too large to remember one by one

    def take(self, seq: int) -> str:
        """'new' (the newest so far), 'late' (fills a gap) or 'duplicate'."""
        if self.highest is None:  # the first one seen: what came before the watcher started is not lost
            self.highest = seq
            return "new"
        if seq > self.highest:
            gap = range(self.highest + 1, seq)
            room = MISSING_LIMIT - len(self.missing)
            if len(gap) > room:
                self.forgotten += len(gap) - room
                gap = range(seq - room, seq)
            self.missing.update(gap)
            self.highest = seq
            return "new"
        if seq in self.missing:
            self.missing.discard(seq)
            return "late"
        return "duplicate"

    @property
    def lost(self) -> int:
        return len(self.missing) + self.forgotten


@dataclass
class FleetState:
    """Every device seen, plus what could not be read. Pure: fed decoded messages, no I/O."""

    devices: dict = field(default_factory=dict)  # device_id -> DeviceRow
    received: int = 0
    refused: Counter = field(default_factory=Counter)  # wire.REASONS -> count
    _seqs: dict = field(default_factory=dict)  # device_id -> {gateway_id: _Sequences}

    def refuse(self, reason: str) -> None:
        self.received += 1
        self.refused[reason] += 1

    def apply(self, m: wire.Message, now: float | None = None) -> None:
        self.received += 1
        row = self.devices.get(m.device_id)
        if row is None:
            row = self.devices[m.device_id] = DeviceRow(m.device_id)
        per_gateway = self._seqs.setdefault(m.device_id, {})
        seqs = per_gateway.get(m.gateway_id)
        if seqs is None:
            seqs = per_gateway[m.gateway_id] = _Sequences()
        verdict = seqs.take(m.sequence)
        if verdict == "duplicate":
            row.duplicates += 1
            return
        row.lost = sum(s.lost for s in per_gateway.values())
        if m.msg_type == P.MSG_INFERENCE:
            row.inferences += 1
        if verdict == "late":  # older than what the row shows: counted, not shown
            return
        row.gateway_id = m.gateway_id
        row.last_seen = time.time() if now is None else now
        if m.msg_type not in (P.MSG_HELLO, P.MSG_INFERENCE, P.MSG_STATUS):
            return  # samples, logs, windows, detections: the row shows none of their fields
        f = P.decode_payload(m.msg_type, m.payload)  # wire.decode parsed it once already: it parses
        if m.msg_type == P.MSG_HELLO:
            row.classes = list(f.get("classes") or [])
            row._times.clear()  # a new run of the board: its clock starts again, maybe another model,
            row.top = row.latency_us = None  # whose class names the old top index would misname
        elif m.msg_type == P.MSG_INFERENCE:
            row.top, row.latency_us = f["top"], f["latency_us"]
            row._inference_time(m.t_ms)
        elif m.msg_type == P.MSG_STATUS:
            row.free_heap, row.dropped = f["free_heap"], f["dropped"]

    def rows(self) -> list[DeviceRow]:
        return [self.devices[k] for k in sorted(self.devices)]


class Watcher:
    """Subscribes to every device's messages and keeps a FleetState of them."""

    def __init__(self, broker: Broker, *, client_id: str | None = None, retry: float = 1.0,
                 log: Callable[[str], None] = lambda text: None):
        self.broker = broker
        self.client_id = client_id or f"edgeloop-view-{secrets.token_hex(4)}"
        self.retry, self.log = retry, log
        self.state = FleetState()
        self.connected = False
        self.lost_broker = 0
        self._client = None
        self._refused: str | None = None

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self._refused = f"connection refused ({reason_code})"
            return
        self.connected = True
        client.subscribe(wire.SUBSCRIBE_ALL, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        # From here on every message published is seen: said once per connection, so a user (or a
        # test) knows when publishing starts to count.
        if any(rc.is_failure for rc in reason_codes):
            self._refused = f"subscribing to {wire.SUBSCRIBE_ALL} was refused ({reason_codes[0]})"
            return
        self.log(f"watching {wire.SUBSCRIBE_ALL} on {self.broker}")

    def _on_message(self, client, userdata, msg):
        try:
            batch = wire.decode_batch(msg.topic, msg.payload)
        except wire.WireError as e:
            self.state.refuse(e.reason)
            self.log(f"refused a message on {msg.topic!r}: {e}")
            return
        for m in batch:  # a gateway's message carries a batch of one board's frames
            self.state.apply(m)

    def _connect(self) -> None:
        c = make_client(self.client_id, persistent=False, broker=self.broker)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.connect(self.broker.host, self.broker.port, keepalive=15)  # OSError when nobody listens
        self._client = c

    def _drop(self, why: str) -> None:
        self.connected = False
        self.lost_broker += 1
        self.log(f"lost the broker {self.broker}: {why}; reconnecting every {self.retry:g} s")
        c, self._client = self._client, None
        try:
            c.disconnect()
        except Exception:
            pass

    def run(self, seconds: float | None = None, *, on_tick: Callable[["Watcher"], None] = lambda w: None,
            tick: float = 0.5, should_stop: Callable[[], bool] = lambda: False) -> FleetState:
        """Watch until `seconds` pass (or should_stop); calls on_tick every `tick` seconds.

        The first connection must succeed (a wrong address is the user's to fix: BrokerError);
        a broker lost later is retried, and the rows keep what they showed."""
        try:
            self._connect()
        except OSError as e:
            raise BrokerError(f"cannot reach the broker {self.broker} ({e.strerror or e}); "
                              "check the address, and that Mosquitto runs there (docs/fleet.md)") from None
        start = time.monotonic()
        end = None if seconds is None else start + seconds
        next_tick = next_try = start
        try:
            while not should_stop() and (end is None or time.monotonic() < end):
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + tick
                    on_tick(self)
                if self._client is None:
                    if now >= next_try:
                        next_try = now + self.retry
                        try:
                            self._connect()
                        except OSError:
                            pass
                    time.sleep(0.05)
                    continue
                rc = self._client.loop(timeout=0.05)
                if self._refused is not None:
                    raise BrokerError(f"the broker {self.broker} refused us: {self._refused}; "
                                      "check its access rules (docs/fleet.md)")
                if rc != 0:
                    self._drop(f"error {rc}")
                    next_try = time.monotonic() + self.retry
        finally:
            if self._client is not None:
                try:
                    self._client.disconnect()
                except Exception:
                    pass
            self.connected = False
        on_tick(self)
        return self.state
