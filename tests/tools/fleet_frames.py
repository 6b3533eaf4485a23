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
