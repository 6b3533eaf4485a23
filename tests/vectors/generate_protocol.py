"""Builds tests/vectors/protocol.json from docs/protocol.md, WITHOUT edgeloop_fw.protocol.

This is the independent implementation both ends are checked against: COBS
comes from the `cobs` package (PyPI), the CRC from binascii.crc_hqx (CRC-16/
CCITT-FALSE is crc_hqx with init 0xFFFF), and every payload is packed here
with struct from the tables in the spec. Re-run it only when the spec changes:

    .venv/bin/python tests/vectors/generate_protocol.py
"""

from __future__ import annotations

import binascii
import json
import struct
from pathlib import Path

from cobs import cobs

VERSION = 1
TYPES = {"hello": 0x01, "samples": 0x02, "features": 0x03, "inference": 0x04, "log": 0x05,
         "status": 0x06, "pong": 0x07, "ack": 0x08, "detection": 0x09, "stream_start": 0x81, "stream_stop": 0x82,
         "set_mode": 0x83, "set_label": 0x84, "ping": 0x85, "hello_request": 0x86,
         "set_source": 0x87}


def s8(text: str) -> bytes:
    b = text.encode("utf-8")
    return bytes([len(b)]) + b


def payload(kind: str, f: dict) -> bytes:
    if kind == "hello":
        return (struct.pack("<HBHHBf", f["rate_hz"], f["channels"], f["window"], f["hop"], f["mode"], f["scale"])
                + s8(f["device_id"]) + s8(f["board"]) + s8(f["firmware"]) + s8(f["model_hash"])
                + s8(f["sensor"]) + s8(f["units"]) + s8(",".join(f["classes"])))
    if kind == "samples":
        return struct.pack("<IHB", f["sample_index"], f["rate_hz"], f["channels"]) + struct.pack(
            f"<{len(f['data'])}h", *f["data"])
    if kind == "features":
        code = {1: "b", 2: "h", 3: "f"}[f["dtype"]]
        return struct.pack("<IB", f["window_index"], f["dtype"]) + struct.pack(f"<{len(f['data'])}{code}", *f["data"])
    if kind == "inference":
        w = f["window"]
        p = struct.pack("<IIBBB", f["window_index"], f["latency_us"], f["top"], len(f["scores"]),
                        0 if w is None else 1) + s8(f["model_hash"]) + struct.pack(f"<{len(f['scores'])}H", *f["scores"])
        if w is not None:
            p += struct.pack("<BH", f["window_channels"], len(w) // f["window_channels"]) + struct.pack(f"<{len(w)}h", *w)
        return p
    if kind == "log":
        return bytes([f["level"]]) + f["text"].encode("utf-8")
    if kind == "status":
        return struct.pack("<IIIIIB", f["capture_us"], f["features_us"], f["inference_us"], f["free_heap"],
                           f["dropped"], f["mode"])
    if kind in ("pong", "ping"):
        return struct.pack("<I", f["token"])
    if kind == "ack":
        return struct.pack("<BHB", f["command"], f["command_seq"], f["status"]) + f["text"].encode("utf-8")
    if kind == "detection":
        w = f["window_index"]
        return struct.pack("<BBHII", f["class_index"], 0 if w is None else 1, f["score"], f["time_ms"],
                           0 if w is None else w) + s8(f["model_hash"])
    if kind == "stream_start":
        return bytes([f["flags"]])
    if kind == "set_mode":
        return bytes([f["mode"]])
    if kind == "set_label":
        return f["label"].encode("utf-8")
    if kind == "set_source":
        return f["source"].encode("utf-8")
    return b""


def frame(type_code: int, seq: int, t_ms: int, p: bytes, version: int = VERSION, crc_xor: int = 0) -> bytes:
    body = struct.pack("<BBHIH", version, type_code, seq, t_ms, len(p)) + p
    crc = binascii.crc_hqx(body, 0xFFFF) ^ crc_xor
    return cobs.encode(body + struct.pack("<H", crc)) + b"\x00"


def escape(wire: bytes) -> bytes:
    out = bytearray()
    for b in wire:
        out += bytes([0x10, b ^ 0x20]) if b in (0x03, 0x10) else bytes([b])
    return bytes(out)


GESTURE_CLASSES = ["idle", "snake", "updown", "wave", "other"]
CASES = [
    ("hello_rp2040", "hello", 0, 12, dict(rate_hz=100, channels=3, window=128, hop=64, mode=2, scale=0.000244140625,
                                          device_id="e6614c311b7d5a2f", board="rp2040", firmware="edgeloop_fw 0.1.0",
                                          model_hash="3f2a9c01d4e5b6a7", sensor="accel", units="g",
                                          classes=GESTURE_CLASSES)),
    ("hello_empty_strings", "hello", 1, 0, dict(rate_hz=16000, channels=1, window=16000, hop=8000, mode=1, scale=1.0,
                                                device_id="", board="", firmware="", model_hash="", sensor="mic",
                                                units="", classes=[])),
    ("samples_accel_zeros", "samples", 2, 1000, dict(sample_index=0, rate_hz=100, channels=3,
                                                     data=[0, 0, 4096, -1, 256, -32768, 32767, 1, 0])),
    # 7 header-of-payload bytes + 248 non-zero data bytes: the encoded frame crosses a 254-byte COBS block
    ("samples_cobs_block_boundary", "samples", 3, 1010, dict(sample_index=0x01010101, rate_hz=0x0101, channels=2,
                                                             data=[0x0101 + i for i in range(124)])),
    ("samples_long_nonzero", "samples", 0xFFFF, 0xFFFFFFFF, dict(sample_index=7, rate_hz=100, channels=3,
                                                                 data=[(i * 7919) % 30000 + 257 for i in range(300)])),
    ("features_int8", "features", 5, 2000, dict(window_index=3, dtype=1, data=[-128, -1, 0, 1, 127] * 8)),
    ("features_int16", "features", 6, 2001, dict(window_index=4, dtype=2, data=[-32768, 0, 32767, 3])),
    ("features_float32", "features", 7, 2002, dict(window_index=5, dtype=3, data=[0.5, -1.25, 0.0, 1024.0])),
    ("inference_no_window", "inference", 8, 3000, dict(window_index=9, latency_us=1834, top=3,
                                                       scores=[0, 1000, 2000, 60000, 2535], model_hash="3f2a9c01d4e5b6a7",
                                                       window=None)),
    ("inference_with_window", "inference", 9, 3010, dict(window_index=10, latency_us=65536, top=0,
                                                         scores=[65535, 0], model_hash="ab",
                                                         window_channels=3, window=[i - 12 for i in range(24)])),
    ("log_utf8", "log", 10, 4000, dict(level=2, text="capture overrun: 3 samples lost — µs")),
    ("status", "status", 11, 5000, dict(capture_us=120, features_us=3400, inference_us=1834, free_heap=151232,
                                        dropped=0, mode=2)),
    ("pong", "pong", 12, 6000, dict(token=0xDEADBEEF)),
    ("ack_unknown_command", "ack", 13, 7000, dict(command=0x9F, command_seq=77, status=1, text="unknown command 0x9f")),
    # a keyword spotter's "yes" (class 2, smoothed 230/255 = 230 * 257) decided on window 77 at 1530 ms of audio
    ("detection_keyword", "detection", 14, 9120, dict(class_index=2, score=230 * 257, time_ms=1530,
                                                      window_index=77, model_hash="5e1f00d2a9b3c4e7")),
    # no window index (a detector without one), no hash, extreme values; CRC/seq bytes include 0x00
    ("detection_no_window", "detection", 0x0100, 0xFFFFFFFF, dict(class_index=255, score=65535,
                                                                   time_ms=0xFFFFFFFF, window_index=None,
                                                                   model_hash="")),
    ("cmd_stream_start", "stream_start", 1, 0, dict(flags=0x1D)),
    ("cmd_stream_stop", "stream_stop", 2, 0, {}),
    ("cmd_set_mode", "set_mode", 3, 0, dict(mode=1)),
    ("cmd_set_label", "set_label", 0x0310, 0, dict(label="wave")),
    ("cmd_ping", "ping", 5, 0, dict(token=0x03100310)),
    ("cmd_hello_request", "hello_request", 6, 0, {}),
    ("cmd_set_source", "set_source", 7, 0, dict(source="gestures/raw/wave_1.npy")),
]


def main() -> None:
    vectors = []
    for name, kind, seq, t_ms, fields in CASES:
        p = payload(kind, fields)
        wire = frame(TYPES[kind], seq, t_ms, p)
        v = dict(name=name, kind=kind, type=TYPES[kind], seq=seq, t_ms=t_ms, fields=fields,
                 payload_hex=p.hex(), wire_hex=wire.hex())
        if TYPES[kind] >= 0x80:
            v["escaped_hex"] = escape(wire).hex()
        vectors.append(v)
    good = frame(TYPES["pong"], 1, 2, payload("pong", dict(token=5)))
    bad = [
        dict(name="bad_crc", error="crc", wire_hex=frame(TYPES["pong"], 1, 2, payload("pong", dict(token=5)), crc_xor=1).hex()),
        dict(name="unknown_type", error="type", wire_hex=frame(0x42, 1, 2, b"").hex()),
        dict(name="future_version", error="version", wire_hex=frame(TYPES["pong"], 1, 2, payload("pong", dict(token=5)), version=2).hex()),
        dict(name="too_short", error="length", wire_hex=(cobs.encode(b"\x01\x07\x00") + b"\x00").hex()),
        dict(name="cobs_overrun", error="cobs", wire_hex=(bytes([0x20]) + good[1:-1] + b"\x00").hex()),
        dict(name="length_field_lies", error="length", wire_hex=(cobs.encode(
            (lambda b: b + struct.pack("<H", binascii.crc_hqx(b, 0xFFFF)))(
                struct.pack("<BBHIH", 1, 7, 1, 2, 9) + b"\x05\x00\x00\x00"))
            + b"\x00").hex()),
    ]
    out = dict(spec="docs/protocol.md", version=VERSION, crc="CRC-16/CCITT-FALSE", frames=vectors, bad=bad)
    path = Path(__file__).with_name("protocol.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(vectors)} frames and {len(bad)} bad frames to {path}")


if __name__ == "__main__":
    main()
