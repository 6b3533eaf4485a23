# Runs in the unix MicroPython (not CPython): the firmware's MQTT sink fed by the firmware's own
# FrameEncoder, driven line by line on stdin by tests/host/fleet/test_board_sink.py.
# argv: lib folder (what deploy puts in /lib), firmware folder, broker port, device id, and optionally
# a JSON object of more mqtt settings (tls, ca_file, username, password, host).
# The current folder is the board's flash (ring and sequence mark files).
# Commands: "feed FIRST COUNT" (inference frames window FIRST.., values from inference_values),
# "alloc FIRST COUNT" (heap bytes per frame), "hello", "settle SECONDS" (pump until nothing is in flight), "drain SECONDS" (pump until nothing waits), "stats", "quit". Each answers one line.
import sys
import time

lib, fw, port, device = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, lib)
sys.path.insert(0, fw)

from edgeloop_fw import protocol as P  # noqa: E402
from edgeloop_fw.mqtt_sink import MqttSink  # noqa: E402

MODEL_HASH = b"ab12cd34ef567890"
CLASSES = ["idle", "wave", "shake"]


def inference_values(i):
    """What window i's inference frame carries; the test computes the same numbers itself."""
    s0 = (i * 7919) % 65536
    s1 = (65535 - s0) // 2
    scores = [s0, s1, 65535 - s0 - s1]
    top = 0
    for k in range(3):
        if scores[k] > scores[top]:
            top = k
    return 20 * i, 1000 + (i * 13) % 500, top, scores


enc = P.FrameEncoder(512)
settings = {"host": "127.0.0.1", "port": port, "ring_file": "ring.bin", "seq_file": "seq.bin",
            "client_id": "board-" + device, "seq_step": 64}
if len(sys.argv) > 5:
    import json
    settings.update(json.loads(sys.argv[5]))
sink = MqttSink(settings)
sink.attach(enc, device)


def stats():
    return "frames=%d published=%d stored=%d ring=%d lost=%d next_seq=%d in_flight=%d" % (
        sink.frames, sink.published, sink.stored, sink.ring.used, sink.ring.lost, sink.mark.next, sink._fl_used)


while True:
    line = sys.stdin.readline()
    if not line:
        break
    words = line.split()
    cmd = words[0]
    if cmd == "hello":
        fields = {"rate_hz": 50, "channels": 3, "window": 50, "hop": 25, "mode": P.MODE_INFER, "scale": 0.001,
                  "device_id": device, "board": "unix", "firmware": "test", "model_hash": MODEL_HASH.decode(),
                  "sensor": "accel", "units": "g", "classes": CLASSES}
        sink.write(enc.wire, enc.wire_mv, enc.message(P.MSG_HELLO, 0, fields))
    elif cmd == "feed":
        first, count = int(words[1]), int(words[2])
        for i in range(first, first + count):
            t, latency, top, scores = inference_values(i)
            n = enc.inference(t, i, latency, top, scores, 3, MODEL_HASH)
            sink.write(enc.wire, enc.wire_mv, n)
            n = enc.pong_from(t, b"abcd", 0)  # not a fleet message: the sink must leave it out
            sink.write(enc.wire, enc.wire_mv, n)
    elif cmd == "alloc":  # heap bytes per frame taken (gc off): "alloc FIRST COUNT"
        import gc
        first, count = int(words[1]), int(words[2])
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        for i in range(first, first + count):
            t, latency, top, scores = inference_values(i)
            sink.write(enc.wire, enc.wire_mv, enc.inference(t, i, latency, top, scores, 3, MODEL_HASH))
        used = gc.mem_alloc() - before
        gc.enable()
        print("alloc per_frame=%d" % (used // count))
        continue
    elif cmd == "settle":  # pump until nothing is in flight (acknowledged, or back in the ring)
        end = time.time() + float(words[1])
        while sink._fl_used and time.time() < end:
            sink.pump()
            time.sleep_ms(2)
    elif cmd == "drain":
        end = time.time() + float(words[1])
        while not sink.idle() and time.time() < end:
            sink.pump()
            time.sleep_ms(2)
    elif cmd == "quit":
        sink.close()
        print("bye", stats())
        break
    print(("idle " if sink.idle() else "busy ") + stats())
