"""The replay file's layout, in one place for both of its sides.

The host writes replay files (edgeloop.sim.replay) and the board reads them
(sensors/replay.py's ReplaySensor); when each side spelled the header out
for itself, a change to one could silently break the other. This module is
plain `struct` code that runs on MicroPython, CircuitPython and CPython, so
both sides import it, as they share edgeloop_fw.protocol.

Layout (little-endian, `HEADER`):

    0   4s  magic b"ELRP"
    4   B   version (1)
    5   B   channels
    6   H   reserved (0)
    8   I   rate in milli-hertz (100 Hz -> 100000; 16 kHz -> 16000000)
    12  I   frames
    16  8s  units, ASCII, NUL-padded ("mg" for acceleration, "pcm16" for audio)
    24  8s  label, ASCII, NUL-padded (the take's class, e.g. "wave")
    32  int16 samples, frame after frame, channels interleaved
"""

import struct

MAGIC = b"ELRP"
VERSION = 1
HEADER = "<4sBBHII8s8s"
HEADER_SIZE = 32  # struct.calcsize(HEADER), spelled out: the board seeks here on every lap
TEXT_BYTES = 8  # units and label fields
SAMPLE_BYTES = 2  # int16 per channel per frame


def pack_header(channels, rate_mhz, frames, units, label):
    """The 32 header bytes; units and label are cut to their 8-byte fields."""
    return struct.pack(HEADER, MAGIC, VERSION, channels, 0, rate_mhz, frames,
                       units.encode()[:TEXT_BYTES], label.encode()[:TEXT_BYTES])


def parse_header(data, error=ValueError):
    """(channels, rate_mhz, frames, units, label) from the header bytes.

    Raises `error` (each side passes its own exception class: SensorError on
    the board, ReplayError on the host) when the bytes are not a replay file
    this version reads.
    """
    magic, version, channels, _, rate_mhz, frames, units, label = struct.unpack(HEADER, data)
    if magic != MAGIC:
        raise error("not an edgeloop replay file (magic %r); make one with edgeloop.replay" % (magic,))
    if version != VERSION:
        raise error("replay file version %d is not supported; this firmware reads version %d" % (version, VERSION))
    if channels < 1 or frames < 1 or rate_mhz < 1:
        raise error("replay file header is inconsistent (channels=%d frames=%d rate=%d mHz)" % (channels, frames, rate_mhz))
    return channels, rate_mhz, frames, _text(units), _text(label)


def _text(b):
    end = b.find(b"\0")
    return (b if end < 0 else b[:end]).decode()
