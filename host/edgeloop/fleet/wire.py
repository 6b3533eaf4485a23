"""The fleet's MQTT wire format: topics and payloads (docs/fleet.md).

A topic is `edgeloop/<device_id>/<kind>`; a payload is a fleet header (magic, version, flags,
gateway id, the gateway's sequence number for this device) followed by board frames exactly as
the protocol defines them (docs/protocol.md: its 10-byte header, payload and CRC, without the
serial line's COBS and delimiter, which MQTT's own framing replaces). The board's frame is
carried, not re-encoded, so the collector checks the board's own CRC and version.

Two versions, both read:
- 1: a 28-byte header and one frame. What a board's own MQTT sink sends (firmware mqtt_sink.py),
  and what an older gateway left in its queue.
- 2 (what a gateway sends): a 30-byte header that adds a u16 count, then `count` frames of one
  device and kind, back to back (each frame's own header says its length), sequences first,
  first + 1, ... A batch: the broker, the acks, the gateway's queue rows and the collector's
  database round trips are per message, so carrying many frames per message is what makes the
  fleet fast. One frame is a batch of 1.
Any other version is refused ("version"): a collector older than its gateways refuses their
batches, so upgrade collectors first.

Everything that arrives is untrusted: `decode` raises WireError with the reason (one of REASONS)
and never anything else, so a collector counts and logs a bad message and carries on.

The other direction is the collector's confirmation (docs/fleet.md, "Delivery"): on
`edgeloop-ack/<gateway_id>`, outside the boards' `edgeloop/+/+` (and not under `$`, which brokers
reserve), a payload of (device id, first sequence, count) ranges the collector has committed. It
is what lets a gateway forget a message: a broker's PUBACK only says the broker took it.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

from edgeloop_fw import protocol as P

from edgeloop.errors import EdgeloopError

TOPIC_ROOT = "edgeloop"
SUBSCRIBE_ALL = TOPIC_ROOT + "/+/+"
MAGIC = b"EL"
WIRE_VERSION = 2  # what encode writes
WIRE_VERSIONS = (1, 2)  # what decode reads
HEADER_FMT_V1 = "<2sBB16sQ"  # magic, wire version, flags (0), gateway id (ASCII, NUL-padded), sequence
HEADER_SIZE_V1 = struct.calcsize(HEADER_FMT_V1)  # 28
HEADER_FMT = HEADER_FMT_V1 + "H"  # version 2: and the number of frames that follow (at least 1)
HEADER_SIZE = struct.calcsize(HEADER_FMT)  # 30
BATCH_MAX = 65535  # frames in one message (the u16 count); a gateway sends far fewer (gateway.BATCH_FRAMES)
GATEWAY_ID_MAX = 16
DEVICE_ID_MAX = 64
# Letters, digits and . _ - : ; no '/', '+', '#', spaces or control characters (MQTT topic levels).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*\Z")

# message type -> topic kind. What the local log keeps is published; features, pongs and acks are
# a link's business, not the fleet's.
KINDS = {
    P.MSG_HELLO: "hello",
    P.MSG_INFERENCE: "inference",
    P.MSG_KEPT: "window",
    P.MSG_DETECTION: "detection",
    P.MSG_STATUS: "status",
    P.MSG_SAMPLES: "samples",
    P.MSG_LOG: "log",
}
MSG_OF_KIND = {v: k for k, v in KINDS.items()}

REASONS = ("topic", "device_id", "kind", "header", "magic", "version", "gateway_id", "frame", "mismatch",
           "identity")  # identity: the collector's check against the fleet's registry (fleet/identity.py)


ACK_ROOT = "edgeloop-ack"
ACK_MAGIC = b"EA"
ACK_VERSION = 1
ACK_HEADER_FMT = "<2sBB"  # magic, confirmation version, flags (0)
ACK_RANGE_FMT = "<QI"  # after a u8 length and the device id: first sequence, count (at least 1)


class WireError(EdgeloopError):
    """A message that is not a valid fleet message; `reason` is one of REASONS ("ack" for a
    confirmation the gateway cannot read)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class Message(NamedTuple):
    device_id: str
    kind: str
    gateway_id: str
    sequence: int  # the gateway's count for this device, from 0
    msg_type: int
    frame_seq: int  # the board's own u16 frame counter
    t_ms: int
    payload: bytes  # the protocol payload (decode with protocol.decode_payload)
    frame: bytes  # the board frame as carried (protocol header + payload + CRC)
    fields: dict | None = None  # the payload decoded (the check parsed it anyway; readers need not again)


def check_id(value: str, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value.encode("utf-8")) > limit or not _ID.match(value):
        reason = "device_id" if what == "device id" else "gateway_id"
        raise WireError(reason, f"{what} {value!r} must be 1-{limit} of A-Z a-z 0-9 . _ - : "
                                "(starting with a letter or digit)")
    return value


def fallback_device_id(gateway_id: str, source_name: str) -> str:
    """The name a gateway gives a board that has no id of its own (an empty device_id in its hello:
    a port without a chip id, the virtual board): the gateway's id and the port's last part."""
    tail = re.sub(r"[^A-Za-z0-9._:-]", "-", source_name.rstrip("/").rsplit("/", 1)[-1]).strip("-") or "board"
    return f"{gateway_id}.{tail}"[:DEVICE_ID_MAX]


def topic(device_id: str, kind: str) -> str:
    check_id(device_id, "device id", DEVICE_ID_MAX)
    if kind not in MSG_OF_KIND:
        raise WireError("kind", f"unknown kind {kind!r} (one of {', '.join(MSG_OF_KIND)})")
    return f"{TOPIC_ROOT}/{device_id}/{kind}"


def parse_topic(name: str) -> tuple[str, str]:
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != TOPIC_ROOT:
        raise WireError("topic", f"topic {name!r} is not {TOPIC_ROOT}/<device_id>/<kind>")
    check_id(parts[1], "device id", DEVICE_ID_MAX)
    if parts[2] not in MSG_OF_KIND:
        raise WireError("kind", f"unknown kind {parts[2]!r} in topic {name!r}")
    return parts[1], parts[2]


def raw_frame(msg_type: int, frame_seq: int, t_ms: int, payload) -> bytes:
    """A board frame without its serial framing (header + payload + CRC), as the board built it."""
    n = len(payload)
    raw = bytearray(P.HEADER_SIZE + n + P.CRC_SIZE)
    struct.pack_into(P.HEADER_FMT, raw, 0, P.PROTOCOL_VERSION, msg_type, frame_seq & 0xFFFF,
                     t_ms & 0xFFFFFFFF, n)
    raw[P.HEADER_SIZE:P.HEADER_SIZE + n] = payload
    crc = P.crc16(raw, P.HEADER_SIZE + n)
    raw[-2], raw[-1] = crc & 0xFF, crc >> 8
    return bytes(raw)


def encode(gateway_id: str, sequence: int, frames) -> bytes:
    """One message payload (version 2): the fleet header, then `frames` (a list of raw_frame
    results, of one device and kind, sequences `sequence`, `sequence` + 1, ...; or one frame)."""
    check_id(gateway_id, "gateway id", GATEWAY_ID_MAX)
    if isinstance(frames, (bytes, bytearray, memoryview)):
        frames = [frames]
    if not 1 <= len(frames) <= BATCH_MAX:
        raise WireError("header", f"{len(frames)} frames in one message (1 to {BATCH_MAX})")
    if not 0 <= sequence or sequence + len(frames) > 1 << 64:
        raise WireError("header", f"sequence {sequence} out of range")
    return b"".join([struct.pack(HEADER_FMT, MAGIC, WIRE_VERSION, 0, gateway_id.encode("ascii"), sequence,
                                 len(frames))] + [bytes(f) for f in frames])


def _header(data: bytes) -> tuple[int, str, int, int, int]:
    """(version, gateway id, first sequence, count, where the frames start) of a fleet header."""
    if len(data) < HEADER_SIZE_V1:
        raise WireError("header", f"{len(data)} bytes, shorter than the {HEADER_SIZE_V1}-byte fleet header")
    magic, version, _flags, gw, sequence = struct.unpack_from(HEADER_FMT_V1, data, 0)
    if magic != MAGIC:
        raise WireError("magic", f"starts with {magic!r}, not {MAGIC!r}: not an edgeloop fleet message")
    if version not in WIRE_VERSIONS:
        raise WireError("version", f"fleet wire version {version}, this collector reads "
                                   f"{' and '.join(map(str, WIRE_VERSIONS))}; upgrade edgeloop on the older side")
    if version == 1:
        count, start = 1, HEADER_SIZE_V1
    else:
        if len(data) < HEADER_SIZE:
            raise WireError("header", f"{len(data)} bytes, shorter than the {HEADER_SIZE}-byte fleet header")
        count, start = struct.unpack_from(HEADER_FMT, data, 0)[5], HEADER_SIZE
        if count < 1:
            raise WireError("header", "a batch of 0 frames")
    try:
        gateway_id = gw.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError:
        raise WireError("gateway_id", f"gateway id {gw!r} is not ASCII") from None
    check_id(gateway_id, "gateway id", GATEWAY_ID_MAX)
    if sequence + count > 1 << 64:
        raise WireError("header", f"sequences {sequence}+{count} run past 2^64")
    return version, gateway_id, sequence, count, start


def decode_batch(topic_name: str, data: bytes) -> list[Message]:
    """Check and split one received message into its frames (sequences first, first + 1, ...);
    raises WireError (with `reason`) and nothing else. A message is taken whole or refused whole:
    one bad frame, or bytes that do not split into exactly `count` frames, refuse all of it."""
    device_id, kind = parse_topic(topic_name)
    data = bytes(data)
    _version, gateway_id, first, count, i = _header(data)
    out = []
    for k in range(count):
        if len(data) - i < P.HEADER_SIZE + P.CRC_SIZE:
            raise WireError("frame", f"frame {k + 1} of {count}: {len(data) - i} bytes left, shorter than a frame")
        end = i + P.HEADER_SIZE + struct.unpack_from(P.HEADER_FMT, data, i)[4] + P.CRC_SIZE
        if end > len(data) or (k == count - 1 and end != len(data)):
            raise WireError("frame", f"frame {k + 1} of {count} ends at byte {end} of {len(data)}: "
                                     "the batch does not split into its count of frames")
        out.append(_frame(device_id, kind, gateway_id, first + k, data[i:end]))
        i = end
    return out


def decode(topic_name: str, data: bytes) -> Message:
    """Check one received message of one frame (as decode_batch); a batch of more is refused
    ("header"), so nothing reading one frame drops the rest unseen."""
    batch = decode_batch(topic_name, data)
    if len(batch) != 1:
        raise WireError("header", f"a batch of {len(batch)} frames where one was expected (use decode_batch)")
    return batch[0]


def _frame(device_id: str, kind: str, gateway_id: str, sequence: int, frame: bytes) -> Message:
    try:
        msg_type = P.check_frame(frame, len(frame))
        _v, _t, frame_seq, t_ms, _n = struct.unpack_from(P.HEADER_FMT, frame, 0)
        payload = frame[P.HEADER_SIZE:len(frame) - P.CRC_SIZE]
        fields = P.decode_payload(msg_type, payload)  # it must parse, or the store would choke on it later
    except P.ProtocolError as e:
        raise WireError("frame", f"board frame rejected: {e}") from None
    except (UnicodeDecodeError, IndexError, struct.error, ValueError, KeyError) as e:
        raise WireError("frame", f"board payload does not parse: {e}") from None
    if KINDS.get(msg_type) != kind:
        raise WireError("mismatch", f"topic kind {kind!r} but the frame is {P.MSG_NAMES.get(msg_type, msg_type)}")
    if msg_type == P.MSG_HELLO:
        said = fields["device_id"]
        if said and said != device_id:  # a board with no id of its own is named by its gateway
            raise WireError("mismatch", f"topic device {device_id!r} but the board's hello says {said!r}")
    return Message(device_id, kind, gateway_id, sequence, msg_type, frame_seq, t_ms, payload, frame, fields)


def sequences_of(data: bytes) -> tuple[int, int]:
    """(first sequence, count) of a payload `encode` made (the gateway reads its own queue; a
    version-1 payload an older gateway queued is one frame)."""
    _m, version, _f, _g, first = struct.unpack_from(HEADER_FMT_V1, data, 0)
    return first, (1 if version == 1 else struct.unpack_from(HEADER_FMT, data, 0)[5])


def key_of(topic_name: str, data: bytes) -> tuple[str, str, int, int] | None:
    """(gateway id, device id, first sequence, count) of a message whose topic and fleet header are
    readable, even when its frames are refused: the collector confirms a refused message too (done
    with, not stored), or its gateway would send it for ever. None when even that cannot be read."""
    try:
        device_id, _kind = parse_topic(topic_name)
        _v, gateway_id, first, count, _start = _header(bytes(data))
        return gateway_id, device_id, first, count
    except (WireError, struct.error):
        return None


# -- the collector's confirmation ---------------------------------------------------------------

def ack_topic(gateway_id: str) -> str:
    return f"{ACK_ROOT}/{check_id(gateway_id, 'gateway id', GATEWAY_ID_MAX)}"


def seq_ranges(sequences) -> list[tuple[int, int]]:
    """Sorted distinct sequences as (first, count) runs: a batch of one board's messages is one run."""
    out: list[list[int]] = []
    for s in sorted(set(sequences)):
        if out and out[-1][0] + out[-1][1] == s:
            out[-1][1] += 1
        else:
            out.append([s, 1])
    return [(a, n) for a, n in out]


def batch_ranges(batches) -> list[tuple[int, int]]:
    """(first, count) batches of one device, merged into sorted distinct (first, count) runs: what
    one confirmation says for them (overlapping redeliveries merge too)."""
    out: list[list[int]] = []
    for first, n in sorted(batches):
        if out and first <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], first + n - out[-1][0])
        else:
            out.append([first, n])
    return [(a, n) for a, n in out]


def encode_ack(ranges) -> bytes:
    """A confirmation payload: `ranges` of (device_id, first sequence, count), all of one gateway."""
    parts = [struct.pack(ACK_HEADER_FMT, ACK_MAGIC, ACK_VERSION, 0)]
    for device_id, first, count in ranges:
        raw = check_id(device_id, "device id", DEVICE_ID_MAX).encode("ascii")
        if not (0 <= first < 1 << 64 and 1 <= count < 1 << 32 and first + count <= 1 << 64):
            raise WireError("ack", f"range {first}+{count} out of bounds")
        parts.append(bytes((len(raw),)) + raw + struct.pack(ACK_RANGE_FMT, first, count))
    return b"".join(parts)


def decode_ack(data: bytes) -> list[tuple[str, int, int]]:
    """The (device_id, first, count) ranges of a confirmation; raises WireError("ack", ...) only."""
    data = bytes(data)
    head = struct.calcsize(ACK_HEADER_FMT)
    if len(data) < head:
        raise WireError("ack", f"{len(data)} bytes, shorter than the {head}-byte confirmation header")
    magic, version, _flags = struct.unpack_from(ACK_HEADER_FMT, data, 0)
    if magic != ACK_MAGIC:
        raise WireError("ack", f"starts with {magic!r}, not {ACK_MAGIC!r}: not an edgeloop confirmation")
    if version != ACK_VERSION:
        raise WireError("ack", f"confirmation version {version}, this gateway reads {ACK_VERSION}; "
                               "upgrade edgeloop on the older side")
    out, i, size = [], head, struct.calcsize(ACK_RANGE_FMT)
    while i < len(data):
        n = data[i]
        if i + 1 + n + size > len(data):
            raise WireError("ack", f"range at byte {i} runs past the end of the confirmation")
        try:
            device_id = check_id(data[i + 1:i + 1 + n].decode("ascii"), "device id", DEVICE_ID_MAX)
        except (UnicodeDecodeError, WireError):
            raise WireError("ack", f"range at byte {i}: not a device id") from None
        first, count = struct.unpack_from(ACK_RANGE_FMT, data, i + 1 + n)
        if count < 1:
            raise WireError("ack", f"range at byte {i}: count 0")
        out.append((device_id, first, count))
        i += 1 + n + size
    return out
