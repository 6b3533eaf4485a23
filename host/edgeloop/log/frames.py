"""Which log table a decoded board frame goes to: one place for every way frames reach a log.

A board's own stream (stream/session.py) and a fleet collector (fleet/sink.py) store the same
messages the same way; only where a session begins differs (a port, or a gateway's topic),
so the hello is theirs and everything after it is here.
"""

from __future__ import annotations

import struct

from edgeloop_fw import protocol as P

_SAMPLES_HEAD = struct.calcsize(P._SAMPLES_FMT)  # sample_index, rate_hz, channels; then int16 LE data


def store_frame(store, msg_type: int, seq: int, t_ms: int, fields: dict, payload, now: float) -> None:
    """Add one decoded frame other than a hello to `store` (a Store or a PgStore); frames the
    log has no table for (pong, ack) are not stored."""
    if msg_type == P.MSG_INFERENCE:
        store.add_inference(fields, seq, t_ms, now)
    elif msg_type == P.MSG_SAMPLES:  # the int16 bytes go in as they came
        store.add_samples(fields, seq, t_ms, now, data_le=bytes(payload[_SAMPLES_HEAD:]))
    elif msg_type == P.MSG_DETECTION:
        store.add_detection(fields, seq, t_ms, now)
    elif msg_type == P.MSG_KEPT:
        store.add_kept(fields, seq, t_ms, now)
    elif msg_type == P.MSG_STATUS:
        store.add_status(fields, t_ms)
    elif msg_type == P.MSG_LOG:
        store.add_event("log", fields["text"])
