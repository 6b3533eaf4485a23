"""Capture rules (which windows to keep) and the flash ring that holds kept windows while no host listens.

One file, run by the board and imported by the host (`edgeloop deploy` validates
/edgeloop.json's "capture" section with `check`, the same code the board runs),
so the rules' meaning cannot drift. docs/firmware.md ("Capture") is the spec.

The "capture" section of /edgeloop.json (every key optional; absent = rule off):

    {"below": 0.6,         keep when the top score < 0.6
     "margin": 0.2,        keep when top-1 minus top-2 score < 0.2
     "classes": ["wave"],  keep when the top class is one of these
     "random": 0.05,       keep this share of the windows no other rule kept
     "seed": 1,            the random rule's seed (0..65535)
     "per_minute": 20,     at most this many kept windows per minute of device time (0: no cap)
     "ring_bytes": 32768,  flash for kept windows while no host is attached (0: none)
     "host_timeout_s": 5}  no command byte from the host for this long = no host attached

Why the pieces are what they are:
- Scores are the wire's Q0.16 ints; thresholds become Q0.16 once at load, so a
  decision is small-int compares and no float per window.
- The random rule is stateless: window i is drawn when CRC-16/CCITT-FALSE of
  i (u32 little-endian) with initial value `seed` is below share * 65536. The
  same seed and window index give the same answer on every run, and the host
  can recompute every draw from the logged window index (binascii.crc_hqx).
- The per-minute cap counts kept windows in a fixed minute that starts at the
  first kept candidate and restarts at the first candidate 60 s or more after
  its start; a candidate over the cap is not kept (and counted in `capped`).
- The ring is a file of fixed-size slots, each one whole frame buffer:
  magic, length, record number, payload, CRC-16 over all of them. A slot is
  written in one write of the whole buffer and a record counts only when its
  CRC matches, so a power cut mid-write loses at most the record being
  written (the oldest, which it was overwriting) and never yields a torn one.
  Freeing a slot overwrites its magic (the CRC then fails).
"""

import struct

from . import protocol as P
from .port import ticks_diff
from .flash_ring import FlashRing

KEYS = ("below", "margin", "classes", "random", "seed", "per_minute", "ring_bytes", "ring_file", "host_timeout_s")
RING_FILE = "/edgeloop_ring.bin"
RING_BYTES = 32768
HOST_TIMEOUT_S = 5
MINUTE_MS = 60000
RING_MAGIC = 0x4B45  # "EK" little-endian


def _number(spec, key, lo, hi, what):
    v = spec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ValueError("capture %s %r is not %s" % (key, v, what))
    return v


def _whole(spec, key, lo, hi, what):
    v = spec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError("capture %s %r is not %s" % (key, v, what))
    return v


def check(spec, classes):
    """The capture section as the board reads it; ValueError (one line, what to do) if it is wrong."""
    if not isinstance(spec, dict):
        raise ValueError("capture must be an object such as {\"below\": 0.6}, not %r" % (spec,))
    for k in spec:
        if k not in KEYS:
            raise ValueError("capture has no setting %r; use %s" % (k, ", ".join(KEYS)))
    _number(spec, "below", 0, 1, "a score between 0 and 1 (e.g. 0.6)")
    _number(spec, "margin", 0, 1, "a score difference between 0 and 1 (e.g. 0.2)")
    _number(spec, "random", 0, 1, "a share between 0 and 1 (e.g. 0.05)")
    _whole(spec, "seed", 0, 65535, "a whole number 0..65535")
    _whole(spec, "per_minute", 0, 100000, "a whole number of windows per minute (0: no cap)")
    _whole(spec, "ring_bytes", 0, 1 << 26, "a whole number of bytes (0: no ring)")
    _number(spec, "host_timeout_s", 1, 3600, "a number of seconds between 1 and 3600")
    names = spec.get("classes")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise ValueError("capture classes must be a list of class names, not %r" % (names,))
        for c in names:
            if c not in classes:
                raise ValueError("capture class %r is not one of the model's classes (%s)" % (c, ", ".join(classes)))
    f = spec.get("ring_file")
    if f is not None and (not isinstance(f, str) or not f.startswith("/")):
        raise ValueError("capture ring_file %r is not an absolute path on the board" % (f,))
    if not any(spec.get(k) for k in ("below", "margin", "classes", "random")):
        raise ValueError("capture keeps nothing: set at least one of below, margin, classes or random")
    return spec


def q16(p):
    """A probability as the wire's Q0.16 score (probability * 65535, rounded)."""
    return int(p * 65535 + 0.5)


class Rules:
    """decide(scores, n, window_index, now_ms) -> the rule that keeps the window (protocol.RULE_*) or 0.

    Allocation-free per call: small ints, one 4-byte buffer made here."""

    def __init__(self, spec, classes):
        check(spec, classes)
        below, margin, share = spec.get("below"), spec.get("margin"), spec.get("random")
        self.below = q16(below) if below else -1  # top < -1 never holds: rule off
        self.margin = q16(margin) if margin else -1
        self.random = int(share * 65536 + 0.5) if share else 0  # keep when draw < this (0..65536)
        self.seed = spec.get("seed") or 0
        self.per_minute = spec.get("per_minute") or 0
        self.keep_class = bytearray(len(classes))
        for name in spec.get("classes") or ():
            self.keep_class[classes.index(name)] = 1
        self._key = bytearray(4)
        self.minute_start = 0
        self.in_minute = -1  # kept in the current minute; -1: no minute started yet
        self.capped = 0  # candidates the per-minute cap turned away

    def draw(self, window_index):
        """The random rule's number for this window, 0..65535 (CRC-16 of the index, seeded)."""
        struct.pack_into("<I", self._key, 0, window_index & 0xFFFFFFFF)
        return P.crc16_py(self._key, 4, self.seed)

    def rule_of(self, scores, n, window_index):
        """The first rule that matches (below, margin, class, random), without the cap; 0 if none."""
        top1 = top2 = -1
        top = 0
        for i in range(n):
            s = scores[i]
            if s > top1:
                top2 = top1
                top1 = s
                top = i
            elif s > top2:
                top2 = s
        if top1 < self.below:
            return P.RULE_BELOW
        if n > 1 and top1 - top2 < self.margin:
            return P.RULE_MARGIN
        if top < len(self.keep_class) and self.keep_class[top]:
            return P.RULE_CLASS
        if self.random and self.draw(window_index) < self.random:
            return P.RULE_RANDOM
        return 0

    def decide(self, scores, n, window_index, now_ms):
        rule = self.rule_of(scores, n, window_index)
        if not rule or not self.per_minute:
            return rule
        if self.in_minute < 0 or ticks_diff(now_ms, self.minute_start) >= MINUTE_MS:
            self.minute_start = now_ms
            self.in_minute = 0
        if self.in_minute >= self.per_minute:
            self.capped += 1
            return 0
        self.in_minute += 1
        return rule


class Ring(FlashRing):
    """Kept windows on flash (flash_ring.FlashRing), numbered records, oldest overwritten.

    `buf` is the frame encoder's raw buffer (protocol.FrameEncoder.raw): a record's payload
    is built there at HEADER_SIZE, so storing and shipping copy nothing. A slot is the whole
    buffer: slot head (10 bytes, the record number in it) | payload | CRC-16 | unused. The
    record number is also stamped into the payload (KEPT_RECORD_AT), flagged KEPT_RING, so a
    host can tell a record it got twice.
    """

    def __init__(self, path, size, buf):
        FlashRing.__init__(self, path, size, buf, RING_MAGIC, "capture")

    @property
    def records(self):
        """Each slot's record number, 0: free (for tests and tools; allocates)."""
        return [k if k > 0 else 0 for k in self.keys]

    def put(self, n):
        """Store the n-byte MSG_KEPT payload in buf[HEADER_SIZE:] as the next record (flagged KEPT_RING)."""
        buf = self.buf
        struct.pack_into("<I", buf, P.HEADER_SIZE + P.KEPT_RECORD_AT, self.next_record)
        buf[P.HEADER_SIZE + P.KEPT_FLAGS_AT] |= P.KEPT_RING
        return FlashRing.put(self, n)
