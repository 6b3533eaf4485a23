"""The edgeloop wire protocol: one file, run by the board and imported by the host.

Both ends import this exact file (`from edgeloop_fw import protocol`), so the
opcodes, header layout and version cannot drift apart. It is written in the
subset MicroPython and CircuitPython run (struct, no dataclasses, no f-strings,
`const` by feature detection). docs/protocol.md is the spec; the test vectors
in tests/vectors/protocol.json are built by an independent implementation.

Why the pieces are what they are:
- COBS with a 0x00 delimiter: a reader that lands mid-frame resynchronises at
  the next 0x00, whatever was lost, at a cost of 1 byte per 254.
- CRC-16/CCITT-FALSE, not CRC-32: its value always fits a small int, so the
  board computes it without allocating a long int (a CRC-32 above 2**30 would
  allocate on 32-bit ports), and it is 2 bytes less per frame.
- `FrameEncoder` fills preallocated buffers: sending a frame in the board's
  hot loop allocates nothing. The dict-based `encode_payload`/`decode_payload`
  allocate and are meant for the host and for the (rare) commands.
- Unknown message types and versions raise ProtocolError; nothing is skipped
  silently.
"""

import struct

from .port import const

try:
    from binascii import crc_hqx as _crc_hqx  # CPython: C speed on the host
except ImportError:  # MicroPython / CircuitPython
    _crc_hqx = None

PROTOCOL_VERSION = const(1)

# -- message types: board -> host ---------------------------------------------
MSG_HELLO = const(0x01)
MSG_SAMPLES = const(0x02)
MSG_FEATURES = const(0x03)
MSG_INFERENCE = const(0x04)
MSG_LOG = const(0x05)
MSG_STATUS = const(0x06)
MSG_PONG = const(0x07)
MSG_ACK = const(0x08)
MSG_DETECTION = const(0x09)  # added within version 1: see docs/protocol.md, Versioning
MSG_KEPT = const(0x0A)  # a window the capture rules kept; added within version 1, own layout version
# -- commands: host -> board ----------------------------------------------------
CMD_STREAM_START = const(0x81)
CMD_STREAM_STOP = const(0x82)
CMD_SET_MODE = const(0x83)
CMD_SET_LABEL = const(0x84)
CMD_PING = const(0x85)
CMD_HELLO = const(0x86)
CMD_SET_SOURCE = const(0x87)

MSG_NAMES = {
    MSG_HELLO: "hello", MSG_SAMPLES: "samples", MSG_FEATURES: "features",
    MSG_INFERENCE: "inference", MSG_LOG: "log", MSG_STATUS: "status",
    MSG_PONG: "pong", MSG_ACK: "ack", MSG_DETECTION: "detection", MSG_KEPT: "kept",
    CMD_STREAM_START: "stream_start", CMD_STREAM_STOP: "stream_stop",
    CMD_SET_MODE: "set_mode", CMD_SET_LABEL: "set_label", CMD_PING: "ping",
    CMD_HELLO: "hello_request", CMD_SET_SOURCE: "set_source",
}

# CMD_STREAM_START flags: which messages the board sends while streaming.
STREAM_SAMPLES = const(0x01)
STREAM_FEATURES = const(0x02)
STREAM_INFERENCE = const(0x04)
STREAM_WINDOW = const(0x08)  # inference frames carry a copy of the input window
STREAM_STATUS = const(0x10)
STREAM_DEFAULT = const(0x14)  # inference + status

# CMD_SET_MODE / HELLO mode
MODE_IDLE = const(0)
MODE_RECORD = const(1)  # capture only: samples, no model
MODE_INFER = const(2)  # capture, features, model

# MSG_FEATURES dtype
DT_INT8 = const(1)
DT_INT16 = const(2)
DT_FLOAT32 = const(3)
_DT_FMT = {DT_INT8: "b", DT_INT16: "h", DT_FLOAT32: "f"}

# MSG_ACK status
ACK_OK = const(0)
ACK_UNKNOWN_COMMAND = const(1)
ACK_BAD_ARGUMENT = const(2)
ACK_BAD_VERSION = const(3)

# MSG_DETECTION flags
DET_WINDOW = const(0x01)  # window_index is given

# MSG_KEPT: the payload's own layout version (first byte), flags, and where the ring patches fields
KEPT_VERSION = const(2)  # the newest layout; 1 (int16 windows) is still written and read
KEPT_RING = const(0x01)  # flags: stored in the board's flash ring while no host was attached, shipped later
KEPT_FEATURES = const(0x02)  # flags (layout 2): the window is the model's int8 input features, not sensor samples
KEPT_RECORD_AT = const(13)  # payload offset of the u32 ring record number
KEPT_FLAGS_AT = const(20)  # payload offset of the flags byte
# MSG_KEPT rule: why a window was kept (edgeloop_fw.capture decides, in this order)
RULE_BELOW = const(1)  # top score below the threshold
RULE_MARGIN = const(2)  # top-1 minus top-2 below the margin
RULE_CLASS = const(3)  # top class in the list
RULE_RANDOM = const(4)  # the seeded random share of the rest
RULE_NAMES = {RULE_BELOW: "below", RULE_MARGIN: "margin", RULE_CLASS: "class", RULE_RANDOM: "random"}

# MSG_LOG level
LOG_DEBUG = const(0)
LOG_INFO = const(1)
LOG_WARNING = const(2)
LOG_ERROR = const(3)

# version u8, type u8, seq u16, device time ms u32, payload length u16
HEADER_FMT = "<BBHIH"
HEADER_SIZE = const(10)
CRC_SIZE = const(2)
MAX_PAYLOAD = const(4096)  # the host's limit; a board may use less
DELIMITER = const(0)
# Host -> board frames are escaped after COBS so they never contain 0x03
# (Ctrl-C stays an interrupt on the board) and ESC stands for itself.
ESC = const(0x10)
ESC_XOR = const(0x20)
ENTRY_POINT = "import edgeloop_fw.app\nedgeloop_fw.app.run()"


class ProtocolError(ValueError):
    """A frame was rejected; `kind` says why (cobs, length, crc, version, type, payload)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


# -- CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0 ------
def _crc_table():
    from array import array
    t = array("H", [0] * 256)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


_CRC_TABLE = _crc_table()


def crc16_py(buf, n, crc=0xFFFF):
    """Table-driven CRC over buf[0:n]; small ints only, so it never allocates."""
    t = _CRC_TABLE
    for i in range(n):
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ buf[i]) & 0xFF]
    return crc


def crc16(buf, n, crc=0xFFFF):
    if _crc_hqx is not None:
        return _crc_hqx(memoryview(buf)[:n], crc)
    return crc16_py(buf, n, crc)


# -- COBS ---------------------------------------------------------------------
def cobs_max_size(n):
    """Worst-case encoded size of n bytes (without the delimiter)."""
    return n + n // 254 + 1


def cobs_encode_into(src, n, dst, off=0):
    """COBS-encode src[0:n] into dst at off; return the end offset (no delimiter)."""
    code_pos = off
    o = off + 1
    code = 1
    last = n - 1
    for i in range(n):
        b = src[i]
        if b:
            dst[o] = b
            o += 1
            code += 1
            if code == 0xFF and i != last:
                dst[code_pos] = 0xFF
                code_pos = o
                o += 1
                code = 1
        else:
            dst[code_pos] = code
            code_pos = o
            o += 1
            code = 1
    dst[code_pos] = code
    return o


def cobs_decode(src):
    """Decode one COBS block (no delimiter) into a new bytearray.

    Without a 0xFF code (every frame under 254 bytes) decoding is "put a zero
    where each code byte was, drop the first": one pass over the codes, no
    slices, which is most of the host's parse time.
    """
    n = len(src)
    out = bytearray(src)
    long_block = False
    i = 0
    while i < n:
        code = out[i]
        if code == 0:
            raise ProtocolError("cobs", "zero byte inside a COBS frame")
        if code == 0xFF:
            long_block = True
        out[i] = 0
        i += code
    if i > n:
        raise ProtocolError("cobs", "COBS block runs past the end of the frame")
    if long_block:
        return _cobs_decode_blocks(src)
    return out[1:]  # (MicroPython's bytearray has no item deletion)


def _cobs_decode_blocks(src):
    """Decode COBS with 0xFF codes (a block of 254 bytes adds no zero); cobs_decode checked `src`."""
    n = len(src)
    out = bytearray()
    mv = memoryview(src)
    i = 0
    while i < n:
        code = src[i]
        end = i + code
        out += mv[i + 1:end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return out


def cobs_decode_into(src, n, dst):
    """Decode the COBS block src[0:n] into dst (n - 1 bytes at most); return the decoded length.

    The board's command path: byte by byte into a buffer made once, so a
    command (the host's ping every second) allocates nothing.
    """
    i = 0
    o = 0
    while i < n:
        code = src[i]
        if code == 0:
            raise ProtocolError("cobs", "zero byte inside a COBS frame")
        end = i + code
        if end > n:
            raise ProtocolError("cobs", "COBS block runs past the end of the frame")
        i += 1
        while i < end:
            dst[o] = src[i]
            o += 1
            i += 1
        if code != 0xFF and i < n:
            dst[o] = 0
            o += 1
    return o


# -- frames ---------------------------------------------------------------------
def check_frame(raw, n):
    """Check the decoded frame raw[0:n] (header, CRC, version, length, type) and return its type.

    Allocates nothing unless it raises: the board checks every host command with it.
    Raises ProtocolError for bad length, CRC, version or type.
    """
    if n < HEADER_SIZE + CRC_SIZE:
        raise ProtocolError("length", "frame of %d bytes is shorter than a header" % n)
    body = n - CRC_SIZE
    if crc16(raw, body) != raw[body] | (raw[body + 1] << 8):
        raise ProtocolError("crc", "CRC mismatch")
    if raw[0] != PROTOCOL_VERSION:
        raise ProtocolError("version", "protocol version %d, expected %d" % (raw[0], PROTOCOL_VERSION))
    length = raw[8] | (raw[9] << 8)
    if length != body - HEADER_SIZE:
        raise ProtocolError("length", "header says %d payload bytes, frame has %d" % (length, body - HEADER_SIZE))
    if raw[1] not in MSG_NAMES:
        raise ProtocolError("type", "unknown message type 0x%02x" % raw[1])
    return raw[1]


def frame_decode(data):
    """Check and split one frame (COBS bytes between delimiters).

    Returns (msg_type, seq, t_ms, payload) where payload is a bytes-like
    object; raises ProtocolError for bad COBS, length, CRC, version or type.
    """
    raw = cobs_decode(data)
    n = len(raw)
    msg_type = check_frame(raw, n)
    _version, _type, seq, t_ms, _length = struct.unpack_from(HEADER_FMT, raw, 0)
    return msg_type, seq, t_ms, memoryview(raw)[HEADER_SIZE:n - CRC_SIZE]


def frame_encode(msg_type, seq, t_ms, payload, version=PROTOCOL_VERSION):
    """Build one wire frame (COBS + trailing delimiter) as new bytes; host and tests."""
    n = len(payload)
    raw = bytearray(HEADER_SIZE + n + CRC_SIZE)
    struct.pack_into(HEADER_FMT, raw, 0, version, msg_type, seq & 0xFFFF, t_ms & 0xFFFFFFFF, n)
    raw[HEADER_SIZE:HEADER_SIZE + n] = payload
    crc = crc16(raw, HEADER_SIZE + n)
    raw[HEADER_SIZE + n] = crc & 0xFF
    raw[HEADER_SIZE + n + 1] = crc >> 8
    out = bytearray(cobs_max_size(len(raw)) + 1)
    end = cobs_encode_into(raw, len(raw), out)
    out[end] = DELIMITER
    return bytes(out[:end + 1])


def cmd_escape(wire):
    """Host -> board: escape 0x03 and ESC so Ctrl-C keeps its meaning on the board."""
    if 0x03 not in wire and ESC not in wire:
        return bytes(wire)
    out = bytearray()
    for b in wire:
        if b == 0x03 or b == ESC:
            out.append(ESC)
            out.append(b ^ ESC_XOR)
        else:
            out.append(b)
    return bytes(out)


def cmd_encode(cmd, seq, fields=None, t_ms=0):
    """A host -> board command, framed and escaped, ready to write to the port."""
    return cmd_escape(frame_encode(cmd, seq, t_ms, encode_payload(cmd, fields or {})))


class CommandReader:
    """Board side: collects escaped host -> board frames from raw input bytes.

    `take(b)` takes one byte and returns the type of the frame a delimiter
    completes, else -1; the frame's seq and payload length are then in
    `seq` and `length`, its payload at `raw[HEADER_SIZE:HEADER_SIZE + length]`
    until the next frame. Nothing is allocated: the host pings every second,
    and a board that cannot collect garbage during a long run (the virtual
    board) would run out of heap. `feed(b)` is the same as a tuple
    (msg_type, seq, t_ms, payload bytes) or None, for rare commands and tests.
    A bad frame raises ProtocolError (reply with an ACK carrying the error,
    never ignore it).
    """

    def __init__(self, max_frame=256):
        self.buf = bytearray(max_frame)
        self.raw = bytearray(max_frame)
        self.n = 0
        self.esc = False
        self.overflow = False
        self.seq = 0
        self.length = 0

    def take(self, b):
        if b == DELIMITER:
            n = self.n
            over = self.overflow
            self.n = 0
            self.esc = False
            self.overflow = False
            if over:
                raise ProtocolError("length", "command frame too long")
            if n == 0:
                return -1
            raw = self.raw
            kind = check_frame(raw, cobs_decode_into(self.buf, n, raw))
            self.seq = raw[2] | (raw[3] << 8)
            self.length = raw[8] | (raw[9] << 8)
            return kind
        if self.esc:
            b ^= ESC_XOR
            self.esc = False
        elif b == ESC:
            self.esc = True
            return -1
        if self.n < len(self.buf):
            self.buf[self.n] = b
            self.n += 1
        else:
            self.overflow = True
        return -1

    def frame(self, kind):
        """The frame `take` just returned as (msg_type, seq, t_ms, payload bytes); allocates."""
        t_ms = struct.unpack_from("<I", self.raw, 4)[0]
        return kind, self.seq, t_ms, bytes(self.raw[HEADER_SIZE:HEADER_SIZE + self.length])

    def feed(self, b):
        kind = self.take(b)
        return None if kind < 0 else self.frame(kind)


# -- payloads as dicts (host, commands, tests) -----------------------------------
def _put_str(out, s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    if len(b) > 255:
        raise ProtocolError("payload", "string longer than 255 bytes")
    out.append(len(b))
    out += b


def _get_str(p, o):
    if o >= len(p):
        raise ProtocolError("payload", "payload ends inside a string")
    n = p[o]
    if o + 1 + n > len(p):
        raise ProtocolError("payload", "string runs past the payload")
    return bytes(p[o + 1:o + 1 + n]).decode(), o + 1 + n


def _ints(fmt_char, p, o, count):
    size = struct.calcsize(fmt_char)
    if o + count * size != len(p):
        raise ProtocolError("payload", "data length %d is not %d x %d" % (len(p) - o, count, size))
    return list(struct.unpack_from("<%d%s" % (count, fmt_char), p, o))


def _check(p, size, name):
    if len(p) < size:
        raise ProtocolError("payload", "%s payload of %d bytes is too short" % (name, len(p)))


_HELLO_FMT = "<HBHHBf"  # rate_hz, channels, window, hop, mode, scale (units per LSB)
_HELLO_STRS = ("device_id", "board", "firmware", "model_hash", "sensor", "units", "classes")
_SAMPLES_FMT = "<IHB"  # sample_index, rate_hz, channels
_FEATURES_FMT = "<IB"  # window_index, dtype
_INFER_FMT = "<IIBBB"  # window_index, latency_us, top, n_classes, flags
_WINDOW_FMT = "<BH"  # channels, samples
_STATUS_FMT = "<IIIIIB"  # capture_us, features_us, inference_us, free_heap, dropped, mode
_ACK_FMT = "<BHB"  # command type, command seq, status
_DET_FMT = "<BBHII"  # class_index, flags, score, time_ms, window_index
_KEPT_FMT = "<BIIIIBBBB"  # kept_version, window_index, latency_us, t_ms, record, rule, top, n_classes, flags
_KEPT_HEAD = const(21)


def encode_payload(msg_type, f):
    """The payload bytes of a message from a dict of fields (see decode_payload)."""
    out = bytearray()
    if msg_type == MSG_HELLO:
        out += struct.pack(_HELLO_FMT, f["rate_hz"], f["channels"], f["window"], f["hop"],
                           f["mode"], f["scale"])
        for k in _HELLO_STRS:
            v = f[k]
            _put_str(out, ",".join(v) if k == "classes" else v)
    elif msg_type == MSG_SAMPLES:
        out += struct.pack(_SAMPLES_FMT, f["sample_index"], f["rate_hz"], f["channels"])
        out += struct.pack("<%dh" % len(f["data"]), *f["data"])
    elif msg_type == MSG_FEATURES:
        c = _DT_FMT.get(f["dtype"])
        if c is None:
            raise ProtocolError("payload", "unknown feature dtype %r" % f["dtype"])
        out += struct.pack(_FEATURES_FMT, f["window_index"], f["dtype"])
        out += struct.pack("<%d%s" % (len(f["data"]), c), *f["data"])
    elif msg_type == MSG_INFERENCE:
        w = f.get("window")
        out += struct.pack(_INFER_FMT, f["window_index"], f["latency_us"], f["top"],
                           len(f["scores"]), 1 if w is not None else 0)
        _put_str(out, f["model_hash"])
        out += struct.pack("<%dH" % len(f["scores"]), *f["scores"])
        if w is not None:
            out += struct.pack(_WINDOW_FMT, f["window_channels"], len(w) // f["window_channels"])
            out += struct.pack("<%dh" % len(w), *w)
    elif msg_type == MSG_LOG:
        out.append(f["level"])
        out += f["text"].encode()
    elif msg_type == MSG_STATUS:
        out += struct.pack(_STATUS_FMT, f["capture_us"], f["features_us"], f["inference_us"],
                           f["free_heap"], f["dropped"], f["mode"])
    elif msg_type == MSG_PONG or msg_type == CMD_PING:
        out += struct.pack("<I", f["token"])
    elif msg_type == MSG_ACK:
        out += struct.pack(_ACK_FMT, f["command"], f["command_seq"], f["status"])
        out += f.get("text", "").encode()
    elif msg_type == MSG_DETECTION:
        w = f.get("window_index")
        out += struct.pack(_DET_FMT, f["class_index"], 0 if w is None else DET_WINDOW, f["score"],
                           f["time_ms"], 0 if w is None else w)
        _put_str(out, f["model_hash"])
    elif msg_type == MSG_KEPT:
        w = f["window"]
        feats = f.get("features")
        out += struct.pack(_KEPT_FMT, f.get("kept_version", 2 if feats else 1), f["window_index"], f["latency_us"],
                           f["t_ms"], f.get("record", 0), f["rule"], f["top"], len(f["scores"]),
                           (KEPT_RING if f.get("ring") else 0) | (KEPT_FEATURES if feats else 0))
        _put_str(out, f["model_hash"])
        _put_str(out, f["firmware"])
        out += struct.pack("<%dH" % len(f["scores"]), *f["scores"])
        out += struct.pack(_WINDOW_FMT, f["window_channels"], len(w) // f["window_channels"])
        out += struct.pack("<%d%s" % (len(w), "b" if feats else "h"), *w)
    elif msg_type == CMD_STREAM_START:
        out.append(f.get("flags", STREAM_DEFAULT))
    elif msg_type == CMD_SET_MODE:
        out.append(f["mode"])
    elif msg_type == CMD_SET_LABEL:
        out += f["label"].encode()
    elif msg_type == CMD_SET_SOURCE:
        out += f["source"].encode()
    elif msg_type == CMD_STREAM_STOP or msg_type == CMD_HELLO:
        pass
    else:
        raise ProtocolError("type", "unknown message type 0x%02x" % msg_type)
    if len(out) > MAX_PAYLOAD:
        raise ProtocolError("length", "payload of %d bytes exceeds %d" % (len(out), MAX_PAYLOAD))
    return bytes(out)


def decode_payload(msg_type, p):
    """The fields of a message as a dict; ProtocolError if the payload is malformed."""
    f = {}
    if msg_type == MSG_HELLO:
        _check(p, 12, "hello")
        (f["rate_hz"], f["channels"], f["window"], f["hop"], f["mode"],
         f["scale"]) = struct.unpack_from(_HELLO_FMT, p, 0)
        o = 12
        for k in _HELLO_STRS:
            f[k], o = _get_str(p, o)
        f["classes"] = f["classes"].split(",") if f["classes"] else []
        if o != len(p):
            raise ProtocolError("payload", "hello has %d trailing bytes" % (len(p) - o))
    elif msg_type == MSG_SAMPLES:
        _check(p, 7, "samples")
        f["sample_index"], f["rate_hz"], f["channels"] = struct.unpack_from(_SAMPLES_FMT, p, 0)
        ch = f["channels"]
        if ch == 0 or (len(p) - 7) % (2 * ch):
            raise ProtocolError("payload", "samples: %d data bytes do not fill %d channels" % (len(p) - 7, ch))
        f["data"] = _ints("h", p, 7, (len(p) - 7) // 2)
    elif msg_type == MSG_FEATURES:
        _check(p, 5, "features")
        f["window_index"], f["dtype"] = struct.unpack_from(_FEATURES_FMT, p, 0)
        c = _DT_FMT.get(f["dtype"])
        if c is None:
            raise ProtocolError("payload", "unknown feature dtype %d" % f["dtype"])
        size = struct.calcsize(c)
        if (len(p) - 5) % size:
            raise ProtocolError("payload", "features: data is not whole values")
        f["data"] = _ints(c, p, 5, (len(p) - 5) // size)
    elif msg_type == MSG_INFERENCE:
        _check(p, 11, "inference")
        f["window_index"], f["latency_us"], f["top"], nc, flags = struct.unpack_from(_INFER_FMT, p, 0)
        f["model_hash"], o = _get_str(p, 11)
        if o + 2 * nc > len(p):
            raise ProtocolError("payload", "inference: scores run past the payload")
        f["scores"] = list(struct.unpack_from("<%dH" % nc, p, o))
        o += 2 * nc
        if nc and f["top"] >= nc:
            raise ProtocolError("payload", "inference: top class %d of %d" % (f["top"], nc))
        if flags & 1:
            if o + 3 > len(p):
                raise ProtocolError("payload", "inference: window header missing")
            ch, ns = struct.unpack_from(_WINDOW_FMT, p, o)
            f["window_channels"] = ch
            f["window"] = _ints("h", p, o + 3, ch * ns)
        else:
            if o != len(p):
                raise ProtocolError("payload", "inference has %d trailing bytes" % (len(p) - o))
            f["window"] = None
    elif msg_type == MSG_LOG:
        _check(p, 1, "log")
        f["level"] = p[0]
        f["text"] = bytes(p[1:]).decode()
    elif msg_type == MSG_STATUS:
        if len(p) != 21:
            raise ProtocolError("payload", "status payload of %d bytes, expected 21" % len(p))
        (f["capture_us"], f["features_us"], f["inference_us"], f["free_heap"],
         f["dropped"], f["mode"]) = struct.unpack_from(_STATUS_FMT, p, 0)
    elif msg_type == MSG_PONG or msg_type == CMD_PING:
        if len(p) != 4:
            raise ProtocolError("payload", "ping/pong payload must be 4 bytes")
        f["token"] = struct.unpack_from("<I", p, 0)[0]
    elif msg_type == MSG_ACK:
        _check(p, 4, "ack")
        f["command"], f["command_seq"], f["status"] = struct.unpack_from(_ACK_FMT, p, 0)
        f["text"] = bytes(p[4:]).decode()
    elif msg_type == MSG_DETECTION:
        _check(p, 13, "detection")
        f["class_index"], flags, f["score"], f["time_ms"], w = struct.unpack_from(_DET_FMT, p, 0)
        f["window_index"] = w if flags & DET_WINDOW else None
        f["model_hash"], o = _get_str(p, 12)
        if o != len(p):
            raise ProtocolError("payload", "detection has %d trailing bytes" % (len(p) - o))
    elif msg_type == MSG_KEPT:
        _check(p, _KEPT_HEAD, "kept")
        if not 1 <= p[0] <= KEPT_VERSION:
            raise ProtocolError("version", "kept window layout %d, expected 1 to %d: update edgeloop on the host"
                                % (p[0], KEPT_VERSION))
        (_v, f["window_index"], f["latency_us"], f["t_ms"], f["record"], f["rule"], f["top"], nc,
         flags) = struct.unpack_from(_KEPT_FMT, p, 0)
        if f["rule"] not in RULE_NAMES:
            raise ProtocolError("payload", "kept: unknown rule %d" % f["rule"])
        f["ring"] = bool(flags & KEPT_RING)
        f["features"] = bool(flags & KEPT_FEATURES)
        if f["features"] and p[0] < 2:
            raise ProtocolError("payload", "kept: layout 1 has no feature windows")
        f["model_hash"], o = _get_str(p, _KEPT_HEAD)
        f["firmware"], o = _get_str(p, o)
        if o + 2 * nc + 3 > len(p):
            raise ProtocolError("payload", "kept: scores or window header run past the payload")
        f["scores"] = list(struct.unpack_from("<%dH" % nc, p, o))
        o += 2 * nc
        if nc and f["top"] >= nc:
            raise ProtocolError("payload", "kept: top class %d of %d" % (f["top"], nc))
        ch, ns = struct.unpack_from(_WINDOW_FMT, p, o)
        if ch == 0:
            raise ProtocolError("payload", "kept: a window of 0 channels")
        f["window_channels"] = ch
        f["window"] = _ints("b" if f["features"] else "h", p, o + 3, ch * ns)
    elif msg_type == CMD_STREAM_START:
        f["flags"] = p[0] if len(p) else STREAM_DEFAULT
    elif msg_type == CMD_SET_MODE:
        _check(p, 1, "set_mode")
        f["mode"] = p[0]
    elif msg_type == CMD_SET_LABEL:
        f["label"] = bytes(p).decode()
    elif msg_type == CMD_SET_SOURCE:
        f["source"] = bytes(p).decode()
    elif msg_type == CMD_STREAM_STOP or msg_type == CMD_HELLO:
        if len(p):
            raise ProtocolError("payload", "%s takes no payload" % MSG_NAMES[msg_type])
    else:
        raise ProtocolError("type", "unknown message type 0x%02x" % msg_type)
    return f


# -- board hot path: preallocated, allocation-free encoding -----------------------
class FrameEncoder:
    """Encodes board -> host frames into preallocated buffers.

    Each `*` method packs its payload at `raw[HEADER_SIZE:]`, then `finish`
    adds header and CRC and COBS-encodes into `wire`; the return value n means
    `wire[0:n]` (delimiter included) is the frame to write. Arguments are
    small ints and buffers (bytes/bytearray/array/memoryview) of exactly the
    length to send, so nothing is allocated per frame.
    """

    def __init__(self, max_payload=1024):
        self.max_payload = max_payload
        self.raw = bytearray(HEADER_SIZE + max_payload + CRC_SIZE)
        self.raw_mv = memoryview(self.raw)
        self.wire = bytearray(cobs_max_size(len(self.raw)) + 1)
        self.wire_mv = memoryview(self.wire)
        self.seq = 0
        self.raw_n = 0  # length of the last frame in raw (header + payload + CRC), for sinks that send it as is

    def finish(self, msg_type, t_ms, n):
        """Frame the n payload bytes already in raw[HEADER_SIZE:]; return the wire length."""
        if n > self.max_payload:
            raise ProtocolError("length", "payload of %d bytes exceeds %d" % (n, self.max_payload))
        raw = self.raw
        struct.pack_into(HEADER_FMT, raw, 0, PROTOCOL_VERSION, msg_type, self.seq, t_ms, n)
        self.seq = (self.seq + 1) & 0xFFFF
        body = HEADER_SIZE + n
        crc = crc16(raw, body)
        raw[body] = crc & 0xFF
        raw[body + 1] = crc >> 8
        self.raw_n = body + CRC_SIZE
        end = cobs_encode_into(raw, body + CRC_SIZE, self.wire, 0)
        self.wire[end] = DELIMITER
        return end + 1

    def _copy(self, off, data):
        n = len(data)
        if off + n > HEADER_SIZE + self.max_payload:
            raise ProtocolError("length", "payload exceeds %d bytes" % self.max_payload)
        self.raw_mv[off:off + n] = data
        return off + n

    def samples(self, t_ms, sample_index, rate_hz, channels, data):
        """data: int16 little-endian bytes (e.g. an array('h') slice), channels interleaved."""
        struct.pack_into(_SAMPLES_FMT, self.raw, HEADER_SIZE, sample_index, rate_hz, channels)
        end = self._copy(HEADER_SIZE + 7, data)
        return self.finish(MSG_SAMPLES, t_ms, end - HEADER_SIZE)

    def features(self, t_ms, window_index, dtype, data):
        struct.pack_into(_FEATURES_FMT, self.raw, HEADER_SIZE, window_index, dtype)
        end = self._copy(HEADER_SIZE + 5, data)
        return self.finish(MSG_FEATURES, t_ms, end - HEADER_SIZE)

    def inference(self, t_ms, window_index, latency_us, top, scores, n_scores, model_hash,
                  window=None, window_channels=0):
        """scores: u16 values (probability * 65535) in any indexable; model_hash: bytes."""
        raw = self.raw
        struct.pack_into(_INFER_FMT, raw, HEADER_SIZE, window_index, latency_us, top,
                         n_scores, 0 if window is None else 1)
        o = HEADER_SIZE + 11
        raw[o] = len(model_hash)
        o = self._copy(o + 1, model_hash)
        if o + 2 * n_scores > HEADER_SIZE + self.max_payload:
            raise ProtocolError("length", "payload exceeds %d bytes" % self.max_payload)
        for i in range(n_scores):
            struct.pack_into("<H", raw, o, scores[i])
            o += 2
        if window is not None:
            if o + 3 > HEADER_SIZE + self.max_payload:
                raise ProtocolError("length", "payload exceeds %d bytes" % self.max_payload)
            struct.pack_into(_WINDOW_FMT, raw, o, window_channels,
                             len(window) // (2 * window_channels))
            o = self._copy(o + 3, window)
        return self.finish(MSG_INFERENCE, t_ms, o - HEADER_SIZE)

    def detection(self, t_ms, class_index, score, time_ms, window_index, model_hash):
        """A detector's decision; score u16 (probability * 65535), window_index an int or None,
        model_hash bytes. The payload is 13 bytes + the hash, packed in place."""
        raw = self.raw
        struct.pack_into(_DET_FMT, raw, HEADER_SIZE, class_index, 0 if window_index is None else DET_WINDOW,
                         score, time_ms, 0 if window_index is None else window_index)
        o = HEADER_SIZE + 12
        raw[o] = len(model_hash)
        o = self._copy(o + 1, model_hash)
        return self.finish(MSG_DETECTION, t_ms, o - HEADER_SIZE)

    def kept_payload(self, window_index, latency_us, t_ms, rule, top, scores, n_scores, model_hash, firmware,
                     window, window_channels, features=False):
        """Pack a MSG_KEPT payload (record 0, not from the ring) at raw[HEADER_SIZE:]; return its length.

        `window`: int16 little-endian sensor samples (layout 1), or with `features` the model's
        int8 input (layout 2: an int8 array or view, window_channels features per frame), copied
        byte by byte so an int8 view needs no cast (CPython refuses to mix formats).
        `finish(MSG_KEPT, t_ms, n)` then frames it; edgeloop_fw.capture.Ring stores the same bytes
        (it writes its slot header over raw[0:HEADER_SIZE] and its CRC after the payload)."""
        raw = self.raw
        struct.pack_into(_KEPT_FMT, raw, HEADER_SIZE, 2 if features else 1, window_index, latency_us, t_ms, 0,
                         rule, top, n_scores, KEPT_FEATURES if features else 0)
        o = HEADER_SIZE + _KEPT_HEAD
        raw[o] = len(model_hash)
        o = self._copy(o + 1, model_hash)
        raw[o] = len(firmware)
        o = self._copy(o + 1, firmware)
        if o + 2 * n_scores + 3 > HEADER_SIZE + self.max_payload:
            raise ProtocolError("length", "payload exceeds %d bytes" % self.max_payload)
        for i in range(n_scores):
            struct.pack_into("<H", raw, o, scores[i])
            o += 2
        if not features:
            struct.pack_into(_WINDOW_FMT, raw, o, window_channels, len(window) // (2 * window_channels))
            o = self._copy(o + 3, window)
            return o - HEADER_SIZE
        n = len(window)
        struct.pack_into(_WINDOW_FMT, raw, o, window_channels, n // window_channels)
        o += 3
        if o + n > HEADER_SIZE + self.max_payload:
            raise ProtocolError("length", "payload exceeds %d bytes" % self.max_payload)
        for i in range(n):
            raw[o + i] = window[i] & 0xFF
        return o + n - HEADER_SIZE

    def status(self, t_ms, capture_us, features_us, inference_us, free_heap, dropped, mode):
        struct.pack_into(_STATUS_FMT, self.raw, HEADER_SIZE, capture_us, features_us,
                         inference_us, free_heap, dropped, mode)
        return self.finish(MSG_STATUS, t_ms, 21)

    def log(self, t_ms, level, text):
        """text: bytes (encode once, outside the hot loop)."""
        self.raw[HEADER_SIZE] = level
        end = self._copy(HEADER_SIZE + 1, text)
        return self.finish(MSG_LOG, t_ms, end - HEADER_SIZE)

    def pong(self, t_ms, token):
        struct.pack_into("<I", self.raw, HEADER_SIZE, token)
        return self.finish(MSG_PONG, t_ms, 4)

    def pong_from(self, t_ms, src, off):
        """A pong echoing the 4 token bytes at src[off:], copied as bytes: a 32-bit token as an
        int would be a heap object on a 32-bit board."""
        raw = self.raw
        for i in range(4):
            raw[HEADER_SIZE + i] = src[off + i]
        return self.finish(MSG_PONG, t_ms, 4)

    def ack(self, t_ms, command, command_seq, status, text=b""):
        struct.pack_into(_ACK_FMT, self.raw, HEADER_SIZE, command, command_seq, status)
        end = self._copy(HEADER_SIZE + 4, text)
        return self.finish(MSG_ACK, t_ms, end - HEADER_SIZE)

    def message(self, msg_type, t_ms, fields):
        """Any message from a dict (allocates: for hello and other rare frames)."""
        p = encode_payload(msg_type, fields)
        end = self._copy(HEADER_SIZE, p)
        return self.finish(msg_type, t_ms, end - HEADER_SIZE)
