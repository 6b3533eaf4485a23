"""`edgeloop collect`'s loop: subscribe to every board, store each message once, ack after commit.

Why it is built this way:
- A persistent MQTT session (clean session off, a fixed client id) and QoS 1: while the collector
  is away the broker queues its messages and delivers them when it is back.
- Acknowledged by hand (paho's manual_ack): a message's PUBACK goes out only after the rows it
  added are committed. A collector killed between the two has the message redelivered; the log's
  unique key (device, gateway, sequence) then stores it once (FleetSink).
- One thread, paho's `loop()` called from here: receiving, storing, committing and acking never
  race, and a lost connection is handled in one place (commit, forget the unacked, reconnect).
- After each commit it confirms to every gateway what is now stored (wire.encode_ack on
  wire.ack_topic, QoS 1): the gateway keeps a message on its disk until then, so a broker killed
  after its PUBACK and before saving costs nothing (the gateway sends it again). A redelivered
  duplicate is confirmed again (its first confirmation may be what was lost); confirmations not
  yet sent when the connection goes are sent after the next commit on the next one.
- A bad message is counted by reason, logged and acknowledged (redelivering it would not make
  it valid), and confirmed when its fleet header is readable, for the same reason; only a
  failing database stops the collector.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from edgeloop.log.store import Store

from . import wire
from .broker import AUTH_REFUSED, Broker, BrokerError, client as make_client
from .sink import FleetSink


@dataclass
class CollectorStats:
    received: int = 0  # MQTT messages
    frames: int = 0  # board frames in the messages that were valid
    stored: int = 0  # frames
    duplicates: int = 0  # frames
    rejected: Counter = field(default_factory=Counter)
    connects: int = 0
    lost: int = 0
    confirmations: int = 0  # confirmation messages sent to gateways

    def summary(self) -> str:
        bad = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        return (f"{self.received} messages received ({self.frames} frames), {self.stored} frames stored, "
                f"{self.duplicates} redelivered "
                f"duplicates ignored, rejected: {bad}; {self.confirmations} confirmations sent; connected {self.connects}x, lost the broker {self.lost}x")


class Collector:
    def __init__(self, broker: Broker, store: Store, *, client_id: str = "edgeloop-collector",
                 retry: float = 1.0, commit_every: int = 2000, commit_seconds: float = 0.2,
                 log: Callable[[str], None] = lambda text: None,
                 check: Callable[[wire.Message], str | None] | None = None):
        """`check`: refuses a decoded message by returning why (counted as "identity", logged,
        confirmed, not stored), e.g. fleet/identity.py's registry check."""
        self.broker, self.store, self.client_id = broker, store, client_id
        self.check = check
        self.retry, self.commit_every, self.commit_seconds = retry, commit_every, commit_seconds
        self.log = log
        self.sink = FleetSink(store)
        self.stats = CollectorStats()
        self._client = None
        self._unacked: list[tuple[int, int]] = []
        self._oldest_unacked = 0.0
        self._new = 0
        self._frames = 0  # frames received since the last commit
        self._refused: str | None = None  # why the broker refused our first connection, if for the credential
        self._confirm: dict[str, dict[str, list[tuple[int, int]]]] = {}  # gateway -> device -> (first, count) to confirm

    # -- paho callbacks (called from inside loop(), on this thread) ------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self.log(f"the broker {self.broker} refused the connection: {reason_code}")
            if reason_code.value in AUTH_REFUSED and self.stats.connects == 0:
                self._refused = str(reason_code)
            return
        self.stats.connects += 1
        self.log(f"connected to {self.broker} (session {'resumed' if flags.session_present else 'new'})")
        client.subscribe(wire.SUBSCRIBE_ALL, qos=1)

    def _on_message(self, client, userdata, msg):
        self.stats.received += 1
        self._new += 1
        try:
            batch = wire.decode_batch(msg.topic, msg.payload)
        except wire.WireError as e:
            self.stats.rejected[e.reason] += 1
            self.log(f"rejected a message on {msg.topic!r}: {e}")
            key = wire.key_of(msg.topic, msg.payload)
        else:
            m = batch[0]  # a batch is one device's, through one gateway
            refused = self.check(m) if self.check is not None else None
            if refused:
                self.stats.rejected["identity"] += 1
                self.log(f"rejected a message on {msg.topic!r}: {refused}")
            else:
                new = self.sink.apply_batch(batch)
                self.stats.frames += len(batch)
                self.stats.stored += new
                self.stats.duplicates += len(batch) - new
            key = (m.gateway_id, m.device_id, m.sequence, len(batch))
        if key is not None:
            self._confirm.setdefault(key[0], {}).setdefault(key[1], []).append((key[2], key[3]))
            self._frames += key[3]
        if msg.qos:
            if not self._unacked:
                self._oldest_unacked = time.monotonic()
            self._unacked.append((msg.mid, msg.qos))

    # -- the loop ---------------------------------------------------------------
    def _connect(self) -> bool:
        c = make_client(self.client_id, persistent=True, manual_ack=True, broker=self.broker)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        try:
            c.connect(self.broker.host, self.broker.port, keepalive=15)
        except OSError as e:
            self.log(f"broker {self.broker} not reachable ({e}); retrying every {self.retry:g} s")
            return False
        self._client = c
        return True

    def _commit_and_ack(self) -> None:
        """Commit everything stored, then confirm it to its gateways and acknowledge it to the
        broker: never the other way round."""
        self.store.flush()
        if self._client is not None:
            for gateway_id, devices in self._confirm.items():
                ranges = [(d, first, n) for d, batches in devices.items() for first, n in wire.batch_ranges(batches)]
                self._client.publish(wire.ack_topic(gateway_id), wire.encode_ack(ranges), qos=1)
                self.stats.confirmations += 1
            self._confirm.clear()
            for mid, qos in self._unacked:
                self._client.ack(mid, qos)
        self._unacked.clear()
        self._frames = 0

    def _lost(self, why: str) -> None:
        self.stats.lost += 1
        self.log(f"lost the broker {self.broker}: {why}; the unacknowledged messages will be redelivered")
        self.store.flush()  # what is stored stays; the broker redelivers it and the key drops it then
        self._unacked.clear()  # (self._confirm stays: it goes out after the next commit)
        c, self._client = self._client, None
        try:
            c.disconnect()
        except Exception:
            pass

    def run(self, seconds: float | None = None, *, should_stop: Callable[[], bool] = lambda: False) -> CollectorStats:
        end = None if seconds is None else time.monotonic() + seconds
        next_try = 0.0
        try:
            while not should_stop() and (end is None or time.monotonic() < end):
                now = time.monotonic()
                if self._client is None:
                    if now >= next_try:
                        next_try = now + self.retry
                        if self._connect():
                            continue
                    time.sleep(0.05)
                    continue
                self._new = 0
                rc = self._client.loop(timeout=0.0 if self._unacked else 0.05)
                if self._refused is not None:
                    # A credential the broker refuses at the start is a set-up mistake, not an
                    # outage: retrying would only fill the log. (Once connected, a refusal is
                    # retried: a broker restarting with its password file half-written says the same.)
                    raise BrokerError(f"the broker {self.broker} refused our credential ({self._refused}); "
                                      "check --username/--password-file or --cert/--key (`edgeloop fleet list`)")
                if rc != 0:
                    self._lost(f"error {rc}")
                    next_try = time.monotonic() + self.retry
                    continue
                if (self._unacked or self._confirm) and (not self._new or self._frames >= self.commit_every
                                                         or now - self._oldest_unacked >= self.commit_seconds):
                    self._commit_and_ack()
                    self._client.loop_write()
        finally:
            self._commit_and_ack()
            if self._client is not None:
                try:
                    self._client.loop_write()
                    self._client.disconnect()
                except Exception:
                    pass
        return self.stats
