"""protocol.py against the independent vectors (cobs package + binascii CRC) and properties."""

from __future__ import annotations

import json
import struct
from array import array
from pathlib import Path

import pytest
from cobs import cobs
from hypothesis import given, settings, strategies as st

from edgeloop_fw import protocol as P
from tests.tools.paths import VECTORS

VECTORS = json.loads((VECTORS / "protocol.json").read_text())
FRAMES = {v["name"]: v for v in VECTORS["frames"]}


def _norm(fields):
    # JSON has no tuples or None-vs-missing distinction; compare like for like.
    return json.loads(json.dumps(fields))


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_vector_decodes(name):
    v = FRAMES[name]
    wire = bytes.fromhex(v["wire_hex"])
    assert wire[-1] == 0 and 0 not in wire[:-1]
    msg_type, seq, t_ms, payload = P.frame_decode(wire[:-1])
    assert (msg_type, seq, t_ms) == (v["type"], v["seq"], v["t_ms"])
    assert bytes(payload).hex() == v["payload_hex"]
    fields = P.decode_payload(msg_type, payload)
    expected = dict(v["fields"])
    if v["kind"] == "inference" and expected["window"] is None:
        expected.pop("window_channels", None)
    assert _norm(fields) == _norm(expected)
    assert P.MSG_NAMES[msg_type] == v["kind"]


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_vector_encodes(name):
    v = FRAMES[name]
    payload = P.encode_payload(v["type"], v["fields"])
    assert payload.hex() == v["payload_hex"]
    assert P.frame_encode(v["type"], v["seq"], v["t_ms"], payload).hex() == v["wire_hex"]
    if "escaped_hex" in v:
        assert P.cmd_encode(v["type"], v["seq"], v["fields"]).hex() == v["escaped_hex"]
        assert 0x03 not in bytes.fromhex(v["escaped_hex"])


@pytest.mark.parametrize("name", sorted(n for n in FRAMES if FRAMES[n]["type"] < 0x80))
def test_vector_board_encoder_matches(name):
    """The allocation-free encoder (the board's hot path) writes the same bytes."""
    v = FRAMES[name]
    f = v["fields"]
    enc = P.FrameEncoder(max_payload=1024)
    enc.seq = v["seq"]
    kind = v["kind"]
    if kind == "samples":
        n = enc.samples(v["t_ms"], f["sample_index"], f["rate_hz"], f["channels"],
                        struct.pack(f"<{len(f['data'])}h", *f["data"]))
    elif kind == "inference":
        w = f["window"]
        n = enc.inference(v["t_ms"], f["window_index"], f["latency_us"], f["top"], array("H", f["scores"]),
                          len(f["scores"]), f["model_hash"].encode(),
                          None if w is None else struct.pack(f"<{len(w)}h", *w), f.get("window_channels", 0))
    elif kind == "status":
        n = enc.status(v["t_ms"], f["capture_us"], f["features_us"], f["inference_us"], f["free_heap"],
                       f["dropped"], f["mode"])
    elif kind == "log":
        n = enc.log(v["t_ms"], f["level"], f["text"].encode())
    elif kind == "pong":
        n = enc.pong(v["t_ms"], f["token"])
    elif kind == "ack":
        n = enc.ack(v["t_ms"], f["command"], f["command_seq"], f["status"], f["text"].encode())
    elif kind == "detection":
        n = enc.detection(v["t_ms"], f["class_index"], f["score"], f["time_ms"], f["window_index"],
                          f["model_hash"].encode())
    elif kind == "features":
        code = {1: "b", 2: "h", 3: "f"}[f["dtype"]]
        n = enc.features(v["t_ms"], f["window_index"], f["dtype"], struct.pack(f"<{len(f['data'])}{code}", *f["data"]))
    else:
        n = enc.message(v["type"], v["t_ms"], f)
    assert bytes(enc.wire[:n]).hex() == v["wire_hex"]
    assert enc.seq == (v["seq"] + 1) & 0xFFFF


@pytest.mark.parametrize("bad", VECTORS["bad"], ids=lambda b: b["name"])
def test_bad_vectors_rejected_with_reason(bad):
    wire = bytes.fromhex(bad["wire_hex"])
    with pytest.raises(P.ProtocolError) as e:
        P.frame_decode(wire[:-1])
    assert e.value.kind == bad["error"]


def test_crc_is_ccitt_false():
    # The catalogue check value of CRC-16/CCITT-FALSE over "123456789" is 0x29B1.
    assert P.crc16_py(b"123456789", 9) == 0x29B1
    assert P.crc16(b"123456789", 9) == 0x29B1


def test_pure_python_crc_matches_host_fast_path(monkeypatch):
    monkeypatch.setattr(P, "_crc_hqx", None)
    for name, v in FRAMES.items():
        wire = bytes.fromhex(v["wire_hex"])
        assert P.frame_decode(wire[:-1])[0] == v["type"], name


@given(st.binary(max_size=1200))
@settings(max_examples=300, deadline=None)
def test_cobs_matches_reference_package(data):
    out = bytearray(P.cobs_max_size(len(data)))
    end = P.cobs_encode_into(data, len(data), out)
    assert bytes(out[:end]) == cobs.encode(data)
    assert bytes(P.cobs_decode(cobs.encode(data))) == data


@given(st.sampled_from(sorted(P.MSG_NAMES)), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF),
       st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_frame_round_trip_any_payload(msg_type, seq, t_ms, payload):
    wire = P.frame_encode(msg_type, seq, t_ms, payload)
    got = P.frame_decode(wire[:-1])
    assert got[:3] == (msg_type, seq, t_ms) and bytes(got[3]) == payload


@given(st.binary(min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_command_reader_unescapes(label_bytes):
    label = label_bytes.decode("latin-1")
    wire = P.cmd_encode(P.CMD_SET_LABEL, 0x0310, {"label": label})
    assert 0x03 not in wire
    reader = P.CommandReader(max_frame=1024)
    got = [r for r in (reader.feed(b) for b in wire) if r is not None]
    assert len(got) == 1
    assert P.decode_payload(got[0][0], got[0][3]) == {"label": label}


def test_command_reader_overflow_is_an_error_then_recovers():
    reader = P.CommandReader(max_frame=24)
    with pytest.raises(P.ProtocolError):
        for b in P.cmd_encode(P.CMD_SET_LABEL, 1, {"label": "x" * 40}):
            reader.feed(b)
    got = [r for r in (reader.feed(b) for b in P.cmd_encode(P.CMD_PING, 2, {"token": 9})) if r]
    assert got[0][0] == P.CMD_PING


def test_unknown_type_is_rejected_not_skipped():
    with pytest.raises(P.ProtocolError):
        P.decode_payload(0x42, b"")
    with pytest.raises(P.ProtocolError):
        P.encode_payload(0x42, {})


def test_encoder_refuses_oversized_payload():
    enc = P.FrameEncoder(max_payload=32)
    with pytest.raises(P.ProtocolError):
        enc.samples(0, 0, 100, 1, bytes(64))


def test_detection_vectors_cover_both_forms():
    kinds = [v for v in FRAMES.values() if v["kind"] == "detection"]
    assert {v["fields"]["window_index"] is None for v in kinds} == {True, False}


@pytest.mark.parametrize("payload, why", [
    (bytes(12), "too short"),  # no model hash length byte
    (bytes(12) + b"\x04ab", "string runs past"),
    (bytes(12) + b"\x00\x00", "trailing"),
])
def test_malformed_detection_is_a_payload_error(payload, why):
    with pytest.raises(P.ProtocolError, match=why) as e:
        P.decode_payload(P.MSG_DETECTION, payload)
    assert e.value.kind == "payload"


def test_a_reader_without_detection_rejects_it_and_keeps_the_rest(monkeypatch):
    """What docs/protocol.md says a host from before MSG_DETECTION does: an error of kind
    "type", counted, and the frames around it still arrive (never a silent skip)."""
    from edgeloop.stream.reader import FrameReader

    det = bytes.fromhex(FRAMES["detection_keyword"]["wire_hex"])
    pong = P.frame_encode(P.MSG_PONG, 15, 9121, P.encode_payload(P.MSG_PONG, {"token": 7}))
    monkeypatch.delitem(P.MSG_NAMES, P.MSG_DETECTION)
    with pytest.raises(P.ProtocolError) as e:
        P.frame_decode(det[:-1])
    assert e.value.kind == "type" and "0x09" in str(e.value)
    reader = FrameReader()
    got = reader.feed(bytes.fromhex(FRAMES["pong"]["wire_hex"]) + det + pong)
    assert [f.msg_type for f in got] == [P.MSG_PONG, P.MSG_PONG]
    assert reader.counts.rejected["type"] == 1 and reader.counts.corrupt == 1
