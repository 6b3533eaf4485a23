"""Capture rules and the flash ring under CPython, against independent computations.

The reference selection is numpy over the same Q0.16 scores (sort for top-1/top-2, vectorised
compares), the random draws are `binascii.crc_hqx` (C, not the board's table-driven CRC), and
the per-minute cap is a plain loop over the candidates' times. The ring is checked by reading
its file with struct + crc_hqx, not with the Ring class.
"""

from __future__ import annotations

import binascii
import struct

import numpy as np
import pytest

from edgeloop_fw import capture as C
from edgeloop_fw import protocol as P
from tests.tools.capture_reference import ring_records as reference_ring
from tests.tools.capture_reference import selection

CLASSES = ["idle", "wave", "shake", "circle"]


def scores_like_a_model(n: int, seed: int = 3) -> np.ndarray:
    """Softmax outputs of random logits as Q0.16, with ties and saturated rows mixed in."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, rng.uniform(0.3, 4, (n, 1)), (n, len(CLASSES)))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q = np.clip(np.round(p * 65535), 0, 65535).astype(int)
    q[::97] = [65535, 0, 0, 0]
    q[5::101] = [30000, 30000, 5535, 0]  # a tie: top is the lower index, margin 0
    return q


def board_decisions(scores, spec, times=None):
    rules = C.Rules(spec, CLASSES)
    return np.array([rules.decide(list(row), len(CLASSES), i, 0 if times is None else int(times[i]))
                     for i, row in enumerate(scores)]), rules


@pytest.mark.parametrize("spec", [
    {"below": 0.6},
    {"margin": 0.25},
    {"classes": ["shake", "circle"]},
    {"random": 0.1, "seed": 7},
    {"below": 0.5, "margin": 0.1, "classes": ["wave"], "random": 0.05, "seed": 1234},
])
def test_rules_select_what_numpy_selects(spec):
    scores = scores_like_a_model(5000)
    got, _ = board_decisions(scores, spec)
    want = selection(scores, spec, CLASSES)
    np.testing.assert_array_equal(got, want)
    assert 0 < (got > 0).sum() < len(got)  # the rule does select, and not everything


def test_random_share_is_the_share_asked_and_depends_on_the_seed():
    scores = np.tile([65535, 0, 0, 0], (20000, 1))  # nothing else would keep these
    a, _ = board_decisions(scores, {"random": 0.05, "seed": 1})
    b, _ = board_decisions(scores, {"random": 0.05, "seed": 2})
    assert abs((a > 0).mean() - 0.05) < 0.005 and abs((b > 0).mean() - 0.05) < 0.005
    assert (a != b).any()
    again, _ = board_decisions(scores, {"random": 0.05, "seed": 1})
    np.testing.assert_array_equal(a, again)  # reproducible


def test_per_minute_cap_against_a_loop_over_device_time():
    scores = scores_like_a_model(3000, seed=9)
    times = np.cumsum(np.random.default_rng(1).integers(100, 900, len(scores)))  # ms, irregular
    spec = {"below": 0.7, "per_minute": 12}
    got, rules = board_decisions(scores, spec, times)
    want = selection(scores, spec, CLASSES, times)
    np.testing.assert_array_equal(got, want)
    uncapped = selection(scores, {"below": 0.7}, CLASSES)
    assert rules.capped == (uncapped > 0).sum() - (want > 0).sum() > 0


@pytest.mark.parametrize("spec, words", [
    ({"below": 2}, "below 2 is not a score"),
    ({"margin": -0.1}, "margin -0.1"),
    ({"classes": ["jump"]}, "'jump' is not one of the model's classes"),
    ({"random": 0.1, "seed": 70000}, "seed 70000"),
    ({"below": 0.5, "per_minute": 1.5}, "per_minute 1.5"),
    ({"below": 0.5, "keep": 1}, "no setting 'keep'"),
    ({"seed": 3}, "keeps nothing"),
    ({"below": True}, "below True"),
])
def test_check_refuses_in_one_line(spec, words):
    with pytest.raises(ValueError) as e:
        C.check(spec, CLASSES)
    assert words in str(e.value) and "\n" not in str(e.value)


# -- the kept frame ------------------------------------------------------------------
def kept_fields(i=7, ring=False, record=0):
    return {"window_index": i, "latency_us": 1234, "t_ms": 99999, "record": record, "rule": P.RULE_MARGIN,
            "top": 2, "scores": [100, 200, 65000, 235], "model_hash": "0123456789abcdef",
            "firmware": "edgeloop_fw 0.1.0", "window_channels": 3, "window": list(range(-150, 150)),
            "ring": ring}


def test_kept_frame_encoder_matches_the_dict_encoder_and_decodes():
    f = kept_fields()
    enc = P.FrameEncoder(1024)
    w = struct.pack("<%dh" % len(f["window"]), *f["window"])
    n = enc.kept_payload(f["window_index"], f["latency_us"], f["t_ms"], f["rule"], f["top"], f["scores"], 4,
                         f["model_hash"].encode(), f["firmware"].encode(), w, 3)
    assert bytes(enc.raw[P.HEADER_SIZE:P.HEADER_SIZE + n]) == P.encode_payload(P.MSG_KEPT, f)
    wire = bytes(enc.wire[:enc.finish(P.MSG_KEPT, 5, n)])
    kind, _seq, t, payload = P.frame_decode(wire[:-1])
    assert (kind, t) == (P.MSG_KEPT, 5)
    assert P.decode_payload(kind, payload) == dict(f, features=False)
    assert payload[0] == 1  # sensor windows keep layout 1: a host from before layout 2 reads them


def test_kept_keyword_features_are_int8_in_layout_2():
    """A keyword model's kept window is its input: 49 frames x 40 int8 features, from the spotter's
    int8 view, byte for byte what the dict encoder writes; a layout-1 payload claiming features is refused."""
    from array import array

    feats = array("b", [(i * 37) % 256 - 128 for i in range(49 * 40)])
    f = dict(kept_fields(), window=list(feats), window_channels=40, features=True)
    enc = P.FrameEncoder(2200)
    n = enc.kept_payload(f["window_index"], f["latency_us"], f["t_ms"], f["rule"], f["top"], f["scores"], 4,
                         f["model_hash"].encode(), f["firmware"].encode(), memoryview(feats), 40, True)
    payload = bytes(enc.raw[P.HEADER_SIZE:P.HEADER_SIZE + n])
    assert payload == P.encode_payload(P.MSG_KEPT, f) and payload[0] == 2
    assert P.decode_payload(P.MSG_KEPT, payload) == dict(f, ring=False)
    old = bytearray(payload)
    old[0] = 1
    with pytest.raises(P.ProtocolError, match="layout 1 has no feature windows"):
        P.decode_payload(P.MSG_KEPT, bytes(old))


def test_kept_frame_of_a_newer_layout_is_refused():
    p = bytearray(P.encode_payload(P.MSG_KEPT, kept_fields()))
    p[0] = P.KEPT_VERSION + 1
    with pytest.raises(P.ProtocolError) as e:
        P.decode_payload(P.MSG_KEPT, bytes(p))
    assert e.value.kind == "version"


# -- the ring --------------------------------------------------------------------------
def ring_records(path, slot_size):
    return reference_ring(open(path, "rb").read(), slot_size)


def put(ring, enc, i):
    f = kept_fields(i)
    w = struct.pack("<300h", *f["window"])
    n = enc.kept_payload(i, 1, 1000 + i, P.RULE_BELOW, 0, f["scores"], 4, b"h", b"fw", w, 3)
    ring.put(n)


def test_ring_keeps_the_newest_overwrites_the_oldest_and_survives_reopening(tmp_path):
    path = str(tmp_path / "ring.bin")
    enc = P.FrameEncoder(700)
    ring = C.Ring(path, 5 * len(enc.raw) + 100, enc.raw)
    assert ring.n_slots == 5
    for i in range(8):
        put(ring, enc, i)
    assert ring.lost == 3
    ring.close()
    on_file = ring_records(path, len(enc.raw))
    assert sorted(on_file) == [4, 5, 6, 7, 8]  # records 1..3 overwritten
    assert [on_file[r]["window_index"] for r in sorted(on_file)] == [3, 4, 5, 6, 7]
    assert all(f["ring"] and f["record"] == r for r, f in on_file.items())

    again = C.Ring(path, 5 * len(enc.raw) + 100, enc.raw)  # after a reboot: same records, same order
    shipped = []
    while (slot := again.oldest()) >= 0:
        n = again.load(slot)
        shipped.append(P.decode_payload(P.MSG_KEPT, bytes(enc.raw[P.HEADER_SIZE:P.HEADER_SIZE + n])))
        again.free(slot)
    assert [f["record"] for f in shipped] == [4, 5, 6, 7, 8]
    put(again, enc, 50)  # numbering goes on after the highest record seen
    again.close()
    assert sorted(ring_records(path, len(enc.raw))) == [9]


def test_a_torn_slot_is_never_a_record(tmp_path):
    """A write cut off part-way (the new record's first bytes over an old one) fails the CRC."""
    path = str(tmp_path / "ring.bin")
    enc = P.FrameEncoder(700)
    size = len(enc.raw)
    ring = C.Ring(path, 4 * size, enc.raw)
    for i in range(3):
        put(ring, enc, i)
    ring.close()
    data = bytearray(open(path, "rb").read())
    torn = bytearray(data[2 * size:3 * size])  # record 3, then "power cut" while writing a new record 4 over it
    new = bytearray(data[0:size])
    n = struct.unpack_from("<H", new, 2)[0]
    end = P.HEADER_SIZE + n
    struct.pack_into("<I", new, 4, 4)
    struct.pack_into("<H", new, end, binascii.crc_hqx(bytes(new[:end]), 0xFFFF))
    for cut in (6, 40, 300, end + 1, end + 2):
        data[2 * size:3 * size] = new[:cut] + torn[cut:]
        open(path, "wb").write(data)
        again = C.Ring(path, 4 * size, enc.raw)
        want = [1, 2, 4] if cut >= end + 2 else [1, 2]  # whole new record, or neither old nor new
        assert sorted(r for r in again.records if r) == want, cut
        again.close()
