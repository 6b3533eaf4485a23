"""The fleet wire format: a board's frame goes through encode/decode unchanged, and every kind
of bad message is refused with its reason (never another exception)."""

from __future__ import annotations

import struct

import pytest
from edgeloop_fw import protocol as P

from edgeloop.fleet import wire
from tests.tools.fleet_frames import board_frames, hello_fields


def _frames(n=5):
    return list(board_frames("dev-1", n, status_every=2, detect_every=3))


def test_a_board_frame_crosses_the_wire_unchanged():
    enc = P.FrameEncoder()
    n = enc.inference(1234, 7, 900, 1, [100, 65000, 435], 3, b"ab12cd34")
    board_raw = bytes(P.cobs_decode(bytes(enc.wire[:n - 1])))  # what the board framed, COBS removed
    msg_type, seq, t_ms, payload = P.frame_decode(bytes(enc.wire[:n - 1]))
    assert wire.raw_frame(msg_type, seq, t_ms, payload) == board_raw
    data = wire.encode("gw-a", 2**40 + 3, board_raw)
    assert len(data) == wire.HEADER_SIZE + len(board_raw) == 30 + len(board_raw)
    # the header spelled out as docs/fleet.md gives it: magic, version 2, flags, gateway id, first, count
    assert data[:30] == b"EL\x02\x00" + b"gw-a".ljust(16, b"\0") + (2**40 + 3).to_bytes(8, "little") + b"\x01\x00"
    m = wire.decode("edgeloop/dev-1/inference", data)
    assert (m.device_id, m.kind, m.gateway_id, m.sequence) == ("dev-1", "inference", "gw-a", 2**40 + 3)
    assert (m.msg_type, m.frame_seq, m.t_ms) == (P.MSG_INFERENCE, 0, 1234)
    assert m.frame == board_raw
    f = P.decode_payload(m.msg_type, m.payload)
    assert (f["window_index"], f["top"], f["scores"]) == (7, 1, [100, 65000, 435])


def test_every_kind_has_its_topic():
    seen = set()
    for msg_type, seq, t_ms, payload in _frames():
        kind = wire.KINDS[msg_type]
        t = wire.topic("dev-1", kind)
        assert t == f"edgeloop/dev-1/{kind}"
        m = wire.decode(t, wire.encode("gw", 0, wire.raw_frame(msg_type, seq, t_ms, payload)))
        seen.add(m.kind)
    assert seen == {"hello", "inference", "status", "detection"}


def _good():
    msg_type, seq, t_ms, payload = _frames()[1]
    return wire.raw_frame(msg_type, seq, t_ms, payload)


@pytest.mark.parametrize("topic, reason", [
    ("edgeloop/dev-1", "topic"), ("other/dev-1/inference", "topic"), ("edgeloop/dev-1/inference/x", "topic"),
    ("edgeloop/dev 1/inference", "device_id"), ("edgeloop//inference", "device_id"),
    ("edgeloop/-dev/inference", "device_id"), ("edgeloop/" + "d" * 65 + "/inference", "device_id"),
    ("edgeloop/dév/inference", "device_id"), ("edgeloop/dev-1/features", "kind"),
    ("edgeloop/dev-1/status", "mismatch"),
])
def test_bad_topics_are_refused_with_their_reason(topic, reason):
    with pytest.raises(wire.WireError) as e:
        wire.decode(topic, wire.encode("gw", 1, _good()))
    assert e.value.reason == reason


def test_bad_payloads_are_refused_with_their_reason():
    good = wire.encode("gw", 1, _good())
    t = "edgeloop/dev-1/inference"
    cases = {
        "header": good[:20],
        "magic": b"XX" + good[2:],
        "version": good[:2] + bytes([3]) + good[3:],
        "gateway_id": good[:4] + b"g w".ljust(16, b"\0") + good[20:],
        "frame": good[:-1] + bytes([good[-1] ^ 0xFF]),  # the board's CRC
    }
    bad_protocol = bytearray(_good())
    bad_protocol[0] = 9  # the board's protocol version
    crc = P.crc16(bad_protocol, len(bad_protocol) - 2)
    bad_protocol[-2:] = bytes([crc & 0xFF, crc >> 8])
    cases["frame (protocol version)"] = good[:wire.HEADER_SIZE] + bytes(bad_protocol)
    for reason, data in cases.items():
        with pytest.raises(wire.WireError) as e:
            wire.decode(t, data)
        assert e.value.reason == reason.split()[0], reason
    with pytest.raises(wire.WireError, match="protocol version 9"):
        wire.decode(t, cases["frame (protocol version)"])


def test_random_garbage_never_escapes_as_another_exception():
    import random

    rng = random.Random(1)
    good = wire.encode("gw", 1, _good())
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data[:rng.randint(0, len(data))]) if rng.random() < 0.3 else bytes(data)
        try:
            wire.decode("edgeloop/dev-1/inference", data)
        except wire.WireError:
            pass


def test_a_hello_must_name_the_device_of_its_topic():
    msg_type, seq, t_ms, payload = _frames()[0]
    data = wire.encode("gw", 0, wire.raw_frame(msg_type, seq, t_ms, payload))
    assert wire.decode("edgeloop/dev-1/hello", data).kind == "hello"
    with pytest.raises(wire.WireError) as e:
        wire.decode("edgeloop/dev-2/hello", data)
    assert e.value.reason == "mismatch"


def test_ids_the_gateway_would_publish_are_checked_before_sending():
    with pytest.raises(wire.WireError):
        wire.topic("a/b", "inference")
    with pytest.raises(wire.WireError):
        wire.topic("dev", "nope")
    with pytest.raises(wire.WireError):
        wire.encode("a-gateway-id-too-long", 0, b"")
    with pytest.raises(wire.WireError):
        wire.encode("gw", -1, b"")
    assert struct.calcsize(wire.HEADER_FMT) == 30 and struct.calcsize(wire.HEADER_FMT_V1) == 28
    with pytest.raises(wire.WireError):
        wire.encode("gw", 0, [])


def test_a_board_without_an_id_is_named_by_its_gateway():
    assert wire.fallback_device_id("gw-1", "/dev/ttyACM0") == "gw-1.ttyACM0"
    assert wire.fallback_device_id("gw-1", "COM3") == "gw-1.COM3"
    assert wire.fallback_device_id("gw-1", "/dev/pts/7") == "gw-1.7"
    nameless = hello_fields("")
    frame = wire.raw_frame(P.MSG_HELLO, 0, 0, P.encode_payload(P.MSG_HELLO, nameless))
    m = wire.decode("edgeloop/gw-1.ttyACM0/hello", wire.encode("gw-1", 0, frame))
    assert m.device_id == "gw-1.ttyACM0"


# -- the collector's confirmation ---------------------------------------------------------------

def test_a_confirmation_is_the_documented_bytes():
    """Built by hand from docs/fleet.md's table, not by encode_ack."""
    expected = (b"EA\x01\x00" + b"\x05dev-1" + (7).to_bytes(8, "little") + (3).to_bytes(4, "little")
                + b"\x01b" + (2**40).to_bytes(8, "little") + (1).to_bytes(4, "little"))
    assert wire.encode_ack([("dev-1", 7, 3), ("b", 2**40, 1)]) == expected
    assert wire.decode_ack(expected) == [("dev-1", 7, 3), ("b", 2**40, 1)]
    assert wire.ack_topic("gw-1") == "edgeloop-ack/gw-1"
    assert not wire.ack_topic("gw-1").startswith(wire.SUBSCRIBE_ALL[:len("edgeloop/")])  # not a board's topic


def test_sequences_become_runs():
    assert wire.seq_ranges([5, 3, 4, 9, 4, 10, 0]) == [(0, 1), (3, 3), (9, 2)]
    assert wire.seq_ranges([]) == []


@pytest.mark.parametrize("data", [b"", b"EA\x01", b"XX\x01\x00", b"EA\x02\x00",
                                  b"EA\x01\x00\x05dev-1" + b"\x00" * 11,  # cut short
                                  b"EA\x01\x00\x03a/b" + b"\x00" * 12,  # not a device id
                                  b"EA\x01\x00\x01a" + b"\x00" * 12])  # count 0
def test_a_bad_confirmation_is_refused_with_reason_ack(data):
    with pytest.raises(wire.WireError) as e:
        wire.decode_ack(data)
    assert e.value.reason == "ack"


def test_a_refused_message_still_names_its_key_when_its_header_reads():
    good = wire.encode("gw-a", 12, b"\x01\x02\x03")  # a board frame that fails its check
    with pytest.raises(wire.WireError):
        wire.decode("edgeloop/dev-1/inference", good)
    assert wire.key_of("edgeloop/dev-1/inference", good) == ("gw-a", "dev-1", 12, 1)
    assert wire.key_of("edgeloop/dev-1/inference", b"EL\x03" + good[3:]) is None  # another version: unknown layout
    assert wire.key_of("other/dev-1/inference", good) is None
    assert wire.key_of("edgeloop/dev-1/inference", good[:20]) is None


def _hand_header(version, gw, first, count=None):
    """A fleet header written from docs/fleet.md's table, not with wire's struct formats."""
    head = b"EL" + bytes([version, 0]) + gw.encode().ljust(16, b"\0") + first.to_bytes(8, "little")
    return head if count is None else head + count.to_bytes(2, "little")


def _raws(kind_type=P.MSG_INFERENCE, n=5):
    return [wire.raw_frame(t, s, ms, p) for t, s, ms, p in _frames(20) if t == kind_type][:n]


def test_a_batch_carries_its_frames_with_consecutive_sequences():
    raws = _raws(n=5)
    data = _hand_header(2, "gw-b", 2**33, 5) + b"".join(raws)
    assert wire.encode("gw-b", 2**33, raws) == data
    batch = wire.decode_batch("edgeloop/dev-1/inference", data)
    assert [m.sequence for m in batch] == [2**33 + i for i in range(5)]
    assert [m.frame for m in batch] == raws
    assert {(m.device_id, m.kind, m.gateway_id) for m in batch} == {("dev-1", "inference", "gw-b")}
    assert wire.sequences_of(data) == (2**33, 5)
    assert wire.key_of("edgeloop/dev-1/inference", data) == ("gw-b", "dev-1", 2**33, 5)
    with pytest.raises(wire.WireError) as e:  # decode reads one frame: a batch is not silently cut
        wire.decode("edgeloop/dev-1/inference", data)
    assert e.value.reason == "header"


def test_version_1_one_frame_is_still_read():
    """What a board's own MQTT sink sends, and what an older gateway left in its queue."""
    raw = _raws(n=1)[0]
    data = _hand_header(1, "gw-old", 41) + raw
    m = wire.decode("edgeloop/dev-1/inference", data)
    assert (m.gateway_id, m.sequence, m.frame) == ("gw-old", 41, raw)
    assert wire.sequences_of(data) == (41, 1)
    assert wire.key_of("edgeloop/dev-1/inference", data) == ("gw-old", "dev-1", 41, 1)
    with pytest.raises(wire.WireError) as e:  # two frames are not a version-1 message
        wire.decode_batch("edgeloop/dev-1/inference", data + raw)
    assert e.value.reason == "frame"


def test_a_batch_is_refused_whole():
    raws = _raws(n=3)
    t = "edgeloop/dev-1/inference"
    bad_crc = raws[1][:-1] + bytes([raws[1][-1] ^ 0xFF])
    status = [wire.raw_frame(ty, s, ms, p) for ty, s, ms, p in _frames(20) if ty == P.MSG_STATUS][0]
    cases = {
        "header (count 0)": _hand_header(2, "gw", 0, 0) + b"".join(raws),
        "frame (count over)": _hand_header(2, "gw", 0, 4) + b"".join(raws),
        "frame (bytes left over)": _hand_header(2, "gw", 0, 2) + b"".join(raws),
        "frame (one bad CRC)": _hand_header(2, "gw", 0, 3) + raws[0] + bad_crc + raws[2],
        "frame (cut short)": (_hand_header(2, "gw", 0, 3) + b"".join(raws))[:-5],
        "mismatch (another kind inside)": _hand_header(2, "gw", 0, 3) + raws[0] + status + raws[2],
        "header (sequences past 2^64)": _hand_header(2, "gw", 2**64 - 2, 3) + b"".join(raws),
    }
    for what, data in cases.items():
        with pytest.raises(wire.WireError) as e:
            wire.decode_batch(t, data)
        assert e.value.reason == what.split()[0], what


def test_batch_ranges_merge_what_one_confirmation_says():
    assert wire.batch_ranges([(10, 5), (0, 3), (3, 2), (12, 6), (30, 1)]) == [(0, 5), (10, 8), (30, 1)]
    assert wire.batch_ranges([(4, 2), (4, 2)]) == [(4, 2)]  # a redelivered batch confirmed again
