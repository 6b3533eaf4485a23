"""The firmware's MQTT sink under CPython, with a fake client standing in for the broker.

References: the host's own fleet codec (edgeloop.fleet.wire.decode) reads every message, and the
frames must be the ones the same app sends on the serial line (COBS-decoded by the protocol's
frame_decode). The flash ring and the sequence mark are checked against what a test wrote.
"""

from __future__ import annotations

import io

import pytest

from chumicro_mqtt import ProtocolState
from edgeloop.fleet import wire
from edgeloop.sim import replay
from edgeloop_fw import protocol as P
from edgeloop_fw.app import App
from edgeloop_fw.mqtt_sink import MqttSink, MsgRing, SeqMark, gateway_id_for
from edgeloop_fw.port import ticks_ms
from edgeloop_fw.serial_link import Output
from tests.firmware.cpython.test_app import Pipe
from tests.tools.paths import REPO, SHARED_DATA

TAKE = SHARED_DATA / "gestures" / "raw" / "2025-06-15T192914_wave.npy"
GESTURE = REPO / "models" / "gesture"
CLASSES = ["idle", "snake", "updown", "wave"]


class FakeClient:
    """chumicro-mqtt's surface as the sink uses it; PUBACKs arrive at the next handle()."""

    def __init__(self):
        self.state = ProtocolState.CONNECTED
        self.sent = []  # (topic, payload) in the order published
        self._acks = []

    def connect(self):
        pass

    def handle(self, now_ms):
        if self.state != ProtocolState.CONNECTED:
            self._acks = []  # the broken connection took its PUBACKs with it
            return
        acks, self._acks = self._acks, []
        for cb in acks:
            cb(None, None)

    def publish(self, topic, payload, qos=0, on_publish=None):
        assert qos == 1
        if self.state != ProtocolState.CONNECTED:
            raise OSError("not connected")
        self.sent.append((topic, bytes(payload)))
        self._acks.append(on_publish)

    def disconnect(self):
        pass


def sink(tmp_path, client, **cfg):
    return MqttSink(dict({"host": "x", "ring_file": str(tmp_path / "ring.bin"),
                          "seq_file": str(tmp_path / "seq.bin")}, **cfg), client=client)


def test_ring_overflow_drops_the_oldest_never_the_slot_in_flight(tmp_path):
    ring = MsgRing(str(tmp_path / "r.bin"), 4 * (10 + 40 + 2), 40)
    msg = bytearray(40)
    for seq in range(4):
        msg[20:28] = seq.to_bytes(8, "little")
        ring.put(memoryview(msg), 40, seq)
    ring.busy[0] = 1  # seq 0 is in flight
    for seq in (4, 5):
        msg[20:28] = seq.to_bytes(8, "little")
        ring.put(memoryview(msg), 40, seq)
    assert sorted(q for q in ring.seqs) == [0, 3, 4, 5] and ring.lost == 2
    ring.close()
    again = MsgRing(str(tmp_path / "r.bin"), 4 * (10 + 40 + 2), 40)  # after a reboot: the same records
    assert sorted(again.seqs) == [0, 3, 4, 5] and again.used == 4
    slot = again.oldest()
    assert again.seqs[slot] == 0 and again.load(slot) == 40
    with open(tmp_path / "r.bin", "r+b") as f:  # a torn write: that slot no longer counts
        f.seek(again.slot_size * slot + 10)
        f.write(b"\xff\xff")
    again.close()
    assert sorted(MsgRing(str(tmp_path / "r.bin"), 4 * (10 + 40 + 2), 40).seqs) == [-1, 3, 4, 5]


def test_sequences_are_never_reused_across_reboots_even_when_the_newer_mark_is_torn(tmp_path):
    path = str(tmp_path / "seq.bin")
    used = [SeqMark(path, 8).take() for _ in range(1)]
    m = SeqMark(path, 8)
    used += [m.take() for _ in range(20)]  # crosses two marks
    m = SeqMark(path, 8)
    used.append(m.take())
    assert len(set(used)) == len(used) and used == sorted(used)
    data = bytearray(open(path, "rb").read())
    newer = m._slot
    data[12 * newer] ^= 0xFF  # power cut while the last mark was written
    open(path, "wb").write(data)
    after = SeqMark(path, 8).take()
    assert after > max(used[:-1])  # the older copy still bounds what was used before it was written


def test_gateway_id_is_the_device_id_cut_to_16():
    assert gateway_id_for("esp32s3-0a1b2c3d4e5f6071") == "esp32s3-0a1b2c3d"
    with pytest.raises(ValueError, match="topic"):
        gateway_id_for("board/1")


@pytest.mark.skipif(not TAKE.exists(), reason="../shared/data/gestures is not here")
def test_the_app_publishes_what_it_would_send_on_the_serial_line(tmp_path):
    replay_file = replay.place_in_flash_dir(replay.load(TAKE), tmp_path)
    cfg = {"sensor": {"kind": "replay", "file": str(replay_file)}, "window": 50, "hop": 25,
           "model": str(GESTURE / "gesture.elm"), "classes": CLASSES, "board": "test", "device_id": "board-7",
           "capture": {"below": 0.9, "margin": 0.6, "random": 0.3, "seed": 11, "ring_file": str(tmp_path / "kept.bin"), "ring_bytes": 40 * 1024}}
    flags = P.STREAM_INFERENCE | P.STREAM_STATUS
    serial = io.BytesIO()
    twin = App(cfg, flags=flags, mode=P.MODE_INFER, out=Output(serial), inp=Pipe())
    client = FakeClient()
    out = sink(tmp_path, client)
    app = App(cfg, flags=flags, mode=P.MODE_INFER, out=out, inp=Pipe())
    for a in (twin, app):
        a.begin()
        a.host_seen, a.host_ms = True, 0  # the serial twin has a host: kept windows go out, not to its ring
    for i in range(300):
        twin.host_ms = ticks_ms()
        for a in (twin, app):
            a.step_block()
        if 100 <= i < 180:
            client.state = ProtocolState.FAILED  # Wi-Fi gone for a while: the flash ring takes the frames
        else:
            client.state = ProtocolState.CONNECTED
        out.pump()
    for _ in range(200):
        out.pump()
    assert out.idle() and out.ring.lost == 0 and out.stored > 0
    want = [(t, s, tm, bytes(p)) for t, s, tm, p in
            (P.frame_decode(c) for c in serial.getvalue().split(b"\0") if c) if t in wire.KINDS]
    got = {}
    for topic, payload in client.sent:
        m = wire.decode(topic, payload)  # the collector's own check: header, CRC, kind, hello's device id
        assert m.device_id == "board-7" and m.gateway_id == "board-7"
        got.setdefault(m.sequence, (m.msg_type, m.frame_seq, m.t_ms, m.payload))
    kinds = {t for t, *_ in want}
    assert twin.kept and twin.kept == app.kept and not twin.ring.count(), (twin.kept, app.kept)
    assert {P.MSG_HELLO, P.MSG_INFERENCE, P.MSG_KEPT} <= kinds
    # every frame once per sequence, in the board's order; only the clock-dependent status frames
    # and the send times (device ms) may differ between the two runs
    order = [got[s] for s in sorted(got)]
    assert [(t, s) for t, s, *_ in order if t != P.MSG_STATUS] == [(t, s) for t, s, *_ in want if t != P.MSG_STATUS]
    def values(frames, kind):  # all but the measured latency and the clock, which differ between two runs
        out = []
        for t, _, _, p in frames:
            if t == kind:
                d = P.decode_payload(t, p)
                d.pop("latency_us", None)
                d.pop("t_ms", None)
                out.append(d)
        return out

    for kind in (P.MSG_INFERENCE, P.MSG_KEPT):
        assert values(order, kind) == values(want, kind) and values(want, kind)
