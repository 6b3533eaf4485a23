# Runs in the unix MicroPython (not CPython): the firmware's app itself, publishing through its
# MQTT sink as a board that autostarts does (App(publish=True)), for tests/host/fleet/test_board_sink.py.
# argv: lib folder (what deploy puts in /lib), firmware folder, config file (an /edgeloop.json), blocks.
# The app's blocks run back to back (no pacing: which windows are inferred does not depend on the
# machine's load), then the sink drains. Prints one line of counters.
import json
import sys
import time

lib, fw, config, blocks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, lib)
sys.path.insert(0, fw)

from edgeloop_fw import protocol as P  # noqa: E402
from edgeloop_fw.app import App  # noqa: E402

with open(config) as f:
    cfg = json.load(f)
app = App(cfg, flags=P.STREAM_INFERENCE, mode=P.MODE_INFER, publish=True)
sink = app.out
app.begin()
for _ in range(blocks):
    app.step_block()
    sink.pump()
end = time.time() + 120
while not sink.idle() and time.time() < end:
    sink.pump()
    time.sleep_ms(2)
print("idle" if sink.idle() else "busy", "frames=%d published=%d lost=%d" % (sink.frames, sink.published, sink.ring.lost))
sink.close()
