"""Board frames for fleet tests and benchmarks, made by the board's own encoder.

`board_frames` yields what a gateway's frame source yields, (msg_type, frame_seq, t_ms, payload),
taken from the bytes `edgeloop_fw.protocol.FrameEncoder` writes to the serial line (COBS decoded
by the protocol's own frame_decode), so a test feeds the gateway exactly what a board sends.
"""

from __future__ import annotations

from edgeloop_fw import protocol as P

CLASSES = ["idle", "wave", "shake"]


def hello_fields(device_id: str) -> dict:
    return {"rate_hz": 50, "channels": 3, "window": 50, "hop": 25, "mode": P.MODE_INFER, "scale": 0.001,
            "device_id": device_id, "board": "fake", "firmware": "test", "model_hash": "ab12cd34",
            "sensor": "accel", "units": "g", "classes": CLASSES}


def _split(enc: P.FrameEncoder, n: int) -> tuple:
    msg_type, seq, t_ms, payload = P.frame_decode(bytes(enc.wire[:n - 1]))  # without the delimiter
    return msg_type, seq, t_ms, bytes(payload)


def board_frames(device_id: str, inferences: int, *, status_every: int = 10, detect_every: int = 0):
    """A hello, then `inferences` inference frames (window_index 0..n-1), a status frame every
    `status_every` and a detection every `detect_every` inferences (0: none)."""
    enc = P.FrameEncoder(max_payload=512)
    yield _split(enc, enc.message(P.MSG_HELLO, 0, hello_fields(device_id)))
    for i in range(inferences):
        t = 20 * i
        scores = [(i * 7919) % 65536, 0, 0]
        scores[1] = (65535 - scores[0]) // 2
        scores[2] = 65535 - scores[0] - scores[1]
        top = max(range(3), key=scores.__getitem__)
        yield _split(enc, enc.inference(t, i, 1000 + i % 500, top, scores, 3, b"ab12cd34"))
        if status_every and i % status_every == status_every - 1:
            yield _split(enc, enc.status(t, 100, 200, 300, 40000, 0, P.MODE_INFER))
        if detect_every and i % detect_every == detect_every - 1:
            yield _split(enc, enc.detection(t, top, scores[top], t, i, b"ab12cd34"))


def fleet_messages(device_id: str, inferences: int, *, gateway_id: str = "gw-test", first: int = 0, **kw):
    """(topic, payload) of a gateway's messages for one board, sequences first, first+1, ..."""
    from edgeloop.fleet import wire

    out = []
    for i, (msg_type, seq, t_ms, payload) in enumerate(board_frames(device_id, inferences, **kw)):
        out.append((wire.topic(device_id, wire.KINDS[msg_type]),
                    wire.encode(gateway_id, first + i, wire.raw_frame(msg_type, seq, t_ms, payload))))
    return out


def publish(url: str, messages, timeout: float = 120.0) -> None:
    """Publish (topic, payload) pairs with QoS 1 and wait for every PUBACK: a plain paho client,
    not the gateway, so collector tests do not depend on the gateway."""
    import paho.mqtt.client as mqtt

    from edgeloop.fleet.broker import parse_broker

    b = parse_broker(url)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    c.max_inflight_messages_set(200)
    c.connect(b.host, b.port)
    c.loop_start()
    try:
        infos = [c.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout)
            assert info.is_published()
    finally:
        c.disconnect()
        c.loop_stop()


def stored_sequences(db_path) -> dict:
    """(device_id, gateway_id) -> list of stored sequences, read straight from the file with sqlite3."""
    import sqlite3

    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        out: dict = {}
        try:
            rows = db.execute("SELECT device_id, gateway_id, sequence FROM fleet_messages ORDER BY sequence").fetchall()
        except sqlite3.OperationalError:  # not created yet
            return {}
        for d, g, s in rows:
            out.setdefault((d, g), []).append(s)
        return out
    finally:
        db.close()


def wait_for(condition, timeout: float, what: str, poll: float = 0.1):
    """Poll `condition()` until it is truthy; fail naming `what` after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)
