"""The board publishes its own frames to MQTT (docs/fleet.md, Boards that publish themselves).

A board with Wi-Fi is its own gateway: each frame the app makes goes out on the fleet's topic
`edgeloop/<device_id>/<kind>` with the fleet's 28-byte header (gateway id = the device id cut to
16 characters), QoS 1, so the host's collector stores it exactly as it stores a gateway's.

The MQTT client is chumicro-mqtt (installed on the board by `edgeloop deploy` from the PyPI
wheel): non-blocking, so the sampling loop never waits on the network; it runs on MicroPython,
CircuitPython and the unix MicroPython the tests use. umqtt.simple was the other candidate: its
PyPI upload is a bare source archive pip cannot install, and its publish blocks until the PUBACK.

Delivery, up to `in_flight` (4) messages waiting for their PUBACK at once:
- a frame is published from RAM when the client is connected, the flash ring is empty and an
  in-flight entry is free (each entry keeps a copy in a buffer made at start);
- otherwise (all entries waiting, offline, broker down, Wi-Fi not joined) it goes to a ring of
  fixed slots on flash, oldest overwritten and counted (`lost`), never a slot in flight; the ring
  ships oldest first whenever the client is connected and an entry is free;
- a slot is freed only when the broker's PUBACK for it arrived; a message whose connection broke
  before its PUBACK goes (back) to the ring and is sent again: the collector's key (device,
  gateway id, sequence) drops the copy that may have arrived. The RAM copies of messages in
  flight are lost at a power cut (at most `in_flight` messages).

Sequences are never reused across reboots: a high-water mark on flash (two CRC-checked copies,
written alternately, so a power cut mid-write leaves the other) says every sequence below it may
have been used. At start the count resumes at the mark and a new mark STEP ahead is written before
the first message; each time the count reaches the mark, the next step is written. A reboot skips
at most STEP sequences (gaps are harmless); flash sees one small write per STEP messages.

TLS (`"tls": true` in the mqtt section, with `ca_file`, `username`, `password`): the connection is
TLS against the fleet's CA only and the board logs in with its own credential (`edgeloop fleet
add-device`); the handshake happens at each connect, not per message, so the per-frame path below
is the same.

Allocation (measured on the unix MicroPython, gc off): a frame that goes to the ring costs 128
bytes of heap (memoryview slices); a published one about 1.5 KB, nearly all chumicro-mqtt's (a
copy of the payload, the packet, its in-flight record and callback). Frames the app does not
publish (pongs, acks, features) cost nothing. A sequence above 2**30 is a long int on a 32-bit
port (three years at ten frames a second).
"""

import struct

from . import protocol as P
from .port import ticks_ms
from .flash_ring import FlashRing, HEAD_SIZE

MAGIC = b"EL"
WIRE_VERSION = 1
HEADER_FMT = "<2sBB16sQ"  # as host/edgeloop/fleet/wire.py: magic, version, flags, gateway id, sequence
HEADER_SIZE = 28
GATEWAY_ID_MAX = 16
DEVICE_ID_MAX = 64
TOPIC_ROOT = "edgeloop"
KINDS = {
    P.MSG_HELLO: "hello", P.MSG_INFERENCE: "inference", P.MSG_KEPT: "window", P.MSG_DETECTION: "detection",
    P.MSG_STATUS: "status", P.MSG_SAMPLES: "samples", P.MSG_LOG: "log",
}
RING_FILE = "/edgeloop_mqtt_ring.bin"
RING_BYTES = 32768
SEQ_FILE = "/edgeloop_mqtt_seq.bin"
SEQ_STEP = 1024
_SLOT_MAGIC = 0x5145  # "EQ"
_SLOT_HEAD = HEAD_SIZE  # the flash ring's slot head (10 bytes); then the message; then its CRC-16
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:"


def check_device_id(device_id):
    """The device id as the wire takes it in a topic, or ValueError saying why not."""
    if not device_id or len(device_id) > DEVICE_ID_MAX or device_id[0] in "._-:":
        raise ValueError("device id %r must be 1-%d characters starting with a letter or digit" % (device_id, DEVICE_ID_MAX))
    for c in device_id:
        if c not in _ID_CHARS:
            raise ValueError("device id %r has %r: only A-Z a-z 0-9 . _ - : go in a topic" % (device_id, c))
    return device_id


def gateway_id_for(device_id):
    """The board is its own gateway: its device id, cut to the wire's 16 characters."""
    return check_device_id(device_id)[:GATEWAY_ID_MAX]


class SeqMark:
    """The persisted high-water mark of fleet sequences (see the module's docstring)."""

    def __init__(self, path, step):
        self.path = path
        self.step = step
        self._rec = bytearray(12)  # u64 mark, u16 CRC, u16 pad
        best, self._slot = 0, 0
        try:
            with open(path, "rb") as f:
                data = f.read(24)
        except OSError:
            data = b""
        for s in range(2):
            if len(data) >= 12 * (s + 1):
                rec = data[12 * s:12 * s + 12]
                crc = rec[8] | (rec[9] << 8)
                if P.crc16(rec, 8) == crc:
                    m = struct.unpack_from("<Q", rec, 0)[0]
                    if m >= best:
                        best, self._slot = m, s
        if len(data) < 24:
            with open(path, "wb") as f:
                f.write(bytes(24))
        self.next = best  # the first sequence this boot may use
        self.limit = best
        self.reserve()

    def reserve(self):
        """Write a mark STEP past the next sequence, in the copy not holding the current one."""
        self.limit = self.next + self.step
        rec = self._rec
        struct.pack_into("<Q", rec, 0, self.limit)
        crc = P.crc16(rec, 8)
        rec[8], rec[9] = crc & 0xFF, crc >> 8
        self._slot ^= 1
        with open(self.path, "r+b") as f:
            f.seek(12 * self._slot)
            f.write(rec)

    def take(self):
        s = self.next
        if s >= self.limit:
            self.reserve()
        self.next = s + 1
        return s


class MsgRing(FlashRing):
    """Messages (fleet header + frame) on flash (flash_ring.FlashRing): ordered by their fleet
    sequence, so a message put back after a broken connection goes before newer ones; `busy`
    marks a slot whose message is in flight."""

    def __init__(self, path, size, msg_max):
        FlashRing.__init__(self, path, size, bytearray(_SLOT_HEAD + msg_max + 2), _SLOT_MAGIC, "mqtt",
                           key_at=_SLOT_HEAD + 20)

    @property
    def seqs(self):
        """Each slot's fleet sequence, -1: free (for tests and tools; allocates)."""
        return list(self.keys)

    def put(self, msg, n, seq):
        """Store msg[0:n] (its fleet header holds `seq`) in a free slot, or over the oldest not in flight."""
        self.mv[_SLOT_HEAD:_SLOT_HEAD + n] = msg[0:n]
        FlashRing.put(self, n)


def tls_context(ca_file):
    """A TLS context that trusts only the fleet's CA (the file deploy wrote), made once at start.
    A firmware built without `ssl` cannot do TLS: say so rather than send the password in clear
    (such a board publishes through a gateway instead; docs/fleet.md, Security)."""
    try:
        import ssl  # noqa: F401  (feature detection: MicroPython and CircuitPython both call it ssl)
    except ImportError:
        raise OSError("mqtt tls: this firmware has no ssl module; use a gateway for this board")
    if not ca_file:
        raise OSError("mqtt tls: no ca_file in /edgeloop.json (deploy --broker mqtts:// --ca CA writes it)")
    import chumicro_sockets
    with open(ca_file, "rb") as f:
        return chumicro_sockets.ssl_context_with_ca(f.read())


def join_wifi(ssid, password):
    """Start joining Wi-Fi where the port has it; returns the radio chumicro needs (CircuitPython) or None.

    MicroPython (`network`): starts the join and returns at once; the client's connection attempts
    fail until it is up and are retried. CircuitPython (`wifi`): joins now (its call blocks), and
    the client opens sockets through `wifi.radio`. The unix MicroPython has neither: its sockets
    are just there.
    """
    try:
        import network
    except ImportError:
        network = None
    if network is not None and hasattr(network, "WLAN"):
        sta = network.WLAN(network.STA_IF)
        sta.active(True)
        if ssid and not sta.isconnected():
            sta.connect(ssid, password)
        return None
    try:
        import wifi
    except ImportError:
        return None
    if ssid and not wifi.radio.connected:
        try:
            wifi.radio.connect(ssid, password)
        except (ConnectionError, OSError):
            pass  # the ring keeps the frames; the client's attempts fail until the radio is up
    return wifi.radio


class MqttSink:
    """The app's output (serial_link.Output's write(buf, mv, n)) when /edgeloop.json has an mqtt section.

    `attach(enc, device_id)` is called once the app has its FrameEncoder: each write then sends
    the frame the encoder just finished (enc.raw[0:enc.raw_n]), not the COBS bytes in buf.
    Up to `in_flight` messages (default 4) wait for their PUBACK at once, each with a copy in a
    buffer made at start (a broken connection sends it to the ring); beyond that, the ring.
    """

    def __init__(self, mqtt, wifi=None, client=None):
        self.cfg = mqtt
        self.wifi = wifi or {}
        self._client = client  # a test may hand in its own
        self.enc = None
        self.frames = 0  # frames taken (published or stored)
        self.dropped = 0  # frames of a kind the fleet does not publish (pongs, acks, features)
        self.published = 0  # PUBACKs received
        self.stored = 0  # messages that went to the ring

    def attach(self, enc, device_id):
        cfg = self.cfg
        self.enc = enc
        self.device_id = check_device_id(device_id)
        gw = gateway_id_for(device_id).encode()
        prefix = cfg.get("topic_prefix") or TOPIC_ROOT
        self.topics = {}
        for t, kind in KINDS.items():  # made once: no string per message
            self.topics[t] = "%s/%s/%s" % (prefix, device_id, kind)
        msg_max = HEADER_SIZE + len(enc.raw)
        self.msg = bytearray(msg_max)
        self.msg_mv = memoryview(self.msg)
        struct.pack_into(HEADER_FMT, self.msg, 0, MAGIC, WIRE_VERSION, 0, gw, 0)
        w = cfg.get("in_flight") or 4
        self._fl_buf = [memoryview(bytearray(msg_max)) for _ in range(w)]  # RAM messages in flight
        self._fl_n = [0] * w
        self._fl_seq = [-1] * w  # -1: free
        self._fl_slot = [-1] * w  # the ring slot it came from, -1: from RAM
        self._fl_acked = bytearray(w)
        self._fl_used = 0
        self._ack_cbs = [self._acker(k) for k in range(w)]  # made once, not a closure per message
        self.mark = SeqMark(cfg.get("seq_file") or SEQ_FILE, cfg.get("seq_step") or SEQ_STEP)
        size = cfg.get("ring_bytes")
        self.ring = MsgRing(cfg.get("ring_file") or RING_FILE, RING_BYTES if size is None else size, msg_max)
        # Looked up once: chumicro_mqtt's lazy attributes run gc.collect() on every access.
        from chumicro_mqtt import ProtocolState
        self._CONNECTED = ProtocolState.CONNECTED
        if self._client is None:
            self._client = self._make_client()
        self._client.connect()

    def _acker(self, k):
        def acked(topic, payload):
            self._fl_acked[k] = 1
        return acked

    def _make_client(self):
        radio = join_wifi(self.wifi.get("ssid"), self.wifi.get("password"))
        from chumicro_mqtt import MQTTClient
        from chumicro_sockets.sockets_factory import fixed_connector_factory
        cfg = self.cfg
        tls = bool(cfg.get("tls"))
        context = tls_context(cfg.get("ca_file")) if tls else None
        return MQTTClient(transport_factory=fixed_connector_factory(cfg["host"], cfg.get("port") or (8883 if tls else 1883),
                                                                    use_tls=tls, ssl_context=context, radio=radio),
                          client_id=cfg.get("client_id") or "edgeloop-" + self.device_id,
                          username=cfg.get("username") or None, password=cfg.get("password") or None,
                          keep_alive_seconds=cfg.get("keepalive") or 30, when_disconnected="raise",
                          max_tx_queue_size=len(self._fl_seq) + 2)

    def connected(self):
        return self._client.state == self._CONNECTED

    def _free_entry(self):
        for k in range(len(self._fl_seq)):
            if self._fl_seq[k] < 0:
                return k
        return -1

    # -- the app's side -----------------------------------------------------------
    def write(self, buf, mv, n):
        enc = self.enc
        raw_n = enc.raw_n
        enc.raw_n = 0  # a write without a new frame (the stream's delimiter) sends nothing
        if raw_n == 0:
            return True
        t = enc.raw[1]
        if t not in KINDS:
            self.dropped += 1
            return True
        self.frames += 1
        seq = self.mark.take()
        struct.pack_into("<Q", self.msg, 20, seq)
        self.msg_mv[HEADER_SIZE:HEADER_SIZE + raw_n] = enc.raw_mv[0:raw_n]
        n_msg = HEADER_SIZE + raw_n
        self.pump()
        k = self._free_entry() if not self.ring.used and self.connected() else -1
        if k < 0 or not self._publish(k, t, self.msg_mv, n_msg, seq, -1):
            self.ring.put(self.msg_mv, n_msg, seq)
            self.stored += 1
        return True

    def pump(self):
        """Advance the client one step, settle what was acknowledged or cut off, ship the ring's oldest."""
        c = self._client
        c.handle(ticks_ms())
        if self._fl_used:
            up = self.connected()
            ring = self.ring
            for k in range(len(self._fl_seq)):
                seq = self._fl_seq[k]
                if seq < 0:
                    continue
                slot = self._fl_slot[k]
                if self._fl_acked[k]:
                    self.published += 1
                    if slot >= 0:
                        ring.free(slot)
                elif up:
                    continue
                elif slot >= 0:  # cut off before its PUBACK: it stays in the ring, sent again later
                    ring.unmark(slot)
                else:
                    ring.put(self._fl_buf[k], self._fl_n[k], seq)
                    self.stored += 1
                self._fl_seq[k] = -1
                self._fl_used -= 1
        while self.ring.used and self.connected():
            k = self._free_entry()
            if k < 0:
                return
            slot = self.ring.oldest()
            if slot < 0:
                return
            n = self.ring.load(slot)
            if n > 0:
                # the frame's type byte is at 10 (slot head) + 28 (fleet header) + 1
                t = self.ring.buf[_SLOT_HEAD + HEADER_SIZE + 1]
                if not self._publish(k, t, self.ring.mv[_SLOT_HEAD:_SLOT_HEAD + n], n, self.ring.keys[slot], slot):
                    return

    def _publish(self, k, t, src, n, seq, slot):
        """Hand one message to the client as in-flight entry k; True when it took it."""
        try:
            self._fl_acked[k] = 0
            self._client.publish(self.topics[t], src[0:n], qos=1, on_publish=self._ack_cbs[k])
        except Exception:  # backpressure, not connected after all: the ring keeps it
            return False
        if slot >= 0:
            self.ring.mark(slot)
        else:
            self._fl_buf[k][0:n] = src[0:n]  # kept until its PUBACK: a broken connection moves it to the ring
        self._fl_seq[k] = seq
        self._fl_slot[k] = slot
        self._fl_n[k] = n
        self._fl_used += 1
        return True

    def idle(self):
        """Nothing waits: no message in flight and the ring empty."""
        return not self._fl_used and not self.ring.used

    def close(self):
        try:
            self._client.disconnect()
        except Exception:
            pass
        self.ring.close()
