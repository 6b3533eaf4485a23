"""Fleet messages into the log's tables, each once: the collector's database side.

Every board of every gateway gets its own session rows (its HELLO's identity); a message whose
(device, gateway, sequence) the log already holds is a broker's redelivery and adds nothing.
The rows a frame adds commit together with its key (Store.claim_message), so a collector that
dies mid-batch leaves neither, and the broker's redelivery stores it then. Keys are per frame, not
per MQTT message: a redelivered batch that partly overlaps what is stored (the gateway batched
differently after a restart) adds only its new frames.

A log that can claim a batch's keys in one statement (PgStore.claim_messages: one round trip
instead of one per frame) and commits only when told (PgStore commits on flush alone) gets the
batch's keys at once, then the new frames' rows; the SQLite log commits by itself every few
hundred rows, so there each frame's key goes just before its rows (in-process, no round trip).
"""

from __future__ import annotations

import time

from edgeloop_fw import protocol as P

from edgeloop.log.frames import store_frame
from edgeloop.log.store import Store

from .wire import Message



class FleetSink:
    def __init__(self, store: Store):
        self.store = store
        self._sessions: dict[str, tuple[int | None, dict]] = {}
        self.stored = 0
        self.duplicates = 0

    def _session_of(self, device_id: str) -> tuple[int | None, dict]:
        s = self._sessions.get(device_id)
        if s is None:
            # A restarted collector carries on with the device's last session; a device never seen
            # (its hello went before this log existed) gets rows with its id and no session.
            s = self.store.latest_session(device_id) or (None, {"device_id": device_id})
            self._sessions[device_id] = s
        return s

    def apply_batch(self, batch: list[Message]) -> int:
        """Store the frames of one message (one device, gateway and kind; wire.decode_batch);
        returns how many were new (the rest were stored before)."""
        claim = getattr(self.store, "claim_messages", None)
        if claim is None or len(batch) == 1:
            return sum(self.apply(m) for m in batch)
        m0 = batch[0]
        new = claim(m0.device_id, m0.gateway_id, m0.kind, [(m.sequence, m.frame_seq) for m in batch])
        for m in batch:
            if m.sequence in new:
                self._store(m)
        self.duplicates += len(batch) - len(new)
        return len(new)

    def apply(self, m: Message) -> bool:
        """Store one frame; False when it was stored before."""
        if not self.store.claim_message(m.device_id, m.gateway_id, m.sequence, m.kind, m.frame_seq):
            self.duplicates += 1
            return False
        self._store(m)
        return True

    def _store(self, m: Message) -> None:
        st = self.store
        f = dict(m.fields) if m.fields is not None else P.decode_payload(m.msg_type, m.payload)
        now = time.time()
        if m.msg_type == P.MSG_HELLO:
            f["device_id"] = f["device_id"] or m.device_id  # named by its gateway (wire.fallback_device_id)
            session_id = st.begin_session(f, f"mqtt:{m.gateway_id}")
            self._sessions[m.device_id] = (session_id, dict(f))
        else:
            st.use_session(*self._session_of(m.device_id))
            store_frame(st, m.msg_type, m.frame_seq, m.t_ms, f, m.payload, now)
        self.stored += 1
