"""The capture rules recomputed independently of edgeloop_fw.capture: numpy over the Q0.16 scores.

Top-1/top-2 by sorting, vectorised compares, the random draws with binascii.crc_hqx (C), the
per-minute cap as a plain loop over the candidates' device times (ms). Used by the CPython tests
and the virtual-board tests, which feed it the scores the host logged.
"""

from __future__ import annotations

import binascii
import struct

import numpy as np

from edgeloop_fw import protocol as P


def selection(scores, spec: dict, classes, times=None, window_index=None) -> np.ndarray:
    """The rule code per row (0: not kept), computed with numpy from the spec's probabilities."""
    scores = np.asarray(scores)
    n = len(scores)
    idx = np.arange(n) if window_index is None else np.asarray(window_index)
    s = np.sort(scores, axis=1)
    top1, top2 = s[:, -1], s[:, -2]
    top = scores.argmax(axis=1)  # the first of equal maxima, as the board's strict > scan
    rule = np.zeros(n, int)
    below = np.round(spec.get("below", 0) * 65535) if spec.get("below") else -1
    margin = np.round(spec.get("margin", 0) * 65535) if spec.get("margin") else -1
    keep_cls = np.isin(top, [list(classes).index(c) for c in spec.get("classes", [])])
    draws = np.array([binascii.crc_hqx(struct.pack("<I", int(i)), spec.get("seed", 0)) for i in idx])
    rnd = draws < round(spec.get("random", 0) * 65536) if spec.get("random") else np.zeros(n, bool)
    for code, hit in ((P.RULE_RANDOM, rnd), (P.RULE_CLASS, keep_cls), (P.RULE_MARGIN, top1 - top2 < margin),
                      (P.RULE_BELOW, top1 < below)):
        rule[hit] = code  # later assignments win: below first, as the board decides
    cap = spec.get("per_minute")
    if cap:
        start, count = None, 0
        for i in np.flatnonzero(rule):
            if start is None or times[i] - start >= 60000:
                start, count = times[i], 0
            if count >= cap:
                rule[i] = 0
            else:
                count += 1
    return rule


RING_MAGIC = 0x4B45  # docs/firmware.md, Capture: "<HHIH" magic, payload length, record number, 0


def ring_records(data: bytes, slot: int) -> dict:
    """Whole records in a capture ring file read with struct + binascii.crc_hqx (not the firmware's Ring):
    {record number: decoded MSG_KEPT fields}; torn, freed and empty slots are not records."""
    assert len(data) % slot == 0, (len(data), slot)
    out = {}
    for off in range(0, len(data), slot):
        magic, n, record, _ = struct.unpack_from("<HHIH", data, off)
        end = off + P.HEADER_SIZE + n
        if magic != RING_MAGIC or end + 2 > off + slot:
            continue
        if binascii.crc_hqx(data[off:end], 0xFFFF) == struct.unpack_from("<H", data, end)[0]:
            out[record] = P.decode_payload(P.MSG_KEPT, data[off + P.HEADER_SIZE:end])
    return out
