"""A scripted stand-in for BoardLink: the I/O edge replaced, everything above it real.

Frames are built with `frame_encode` from protocol.py; the protocol itself is
checked against independent vectors in test_protocol.py.
"""

from __future__ import annotations

import time

from edgeloop_fw import protocol as P
from edgeloop.stream.link import LinkLost

CLASSES = ["idle", "snake", "updown", "wave", "other"]
HELLO = dict(rate_hz=100, channels=3, window=128, hop=64, mode=2, scale=0.001, device_id="fake01",
             board="rp2040", firmware="edgeloop_fw 0.1.0", model_hash="feedbeef", sensor="accel",
             units="g", classes=CLASSES)


class FakeBoardFrames:
    """Builds a board's frame sequence: hello, then inference/status/samples."""

    def __init__(self, hello=HELLO, window=False):
        self.seq = 0
        self.t = 1000
        self.hello = hello
        self.window = window
        self.index = 0

    def frame(self, msg_type, fields):
        b = P.frame_encode(msg_type, self.seq, self.t, P.encode_payload(msg_type, fields))
        self.seq = (self.seq + 1) & 0xFFFF
        self.t += 10
        return b

    def hello_frame(self):
        self.seq = 0
        return b"\x00" + self.frame(P.MSG_HELLO, self.hello)

    def inference(self, top=None):
        i = self.index
        self.index += 1
        top = i % 5 if top is None else top
        scores = [2000] * 5
        scores[top] = 65535 - 8000
        f = dict(window_index=i, latency_us=1500 + i, top=top, scores=scores, model_hash="feedbeef",
                 window=[(i + k) % 100 - 50 for k in range(12)] if self.window else None, window_channels=3)
        return self.frame(P.MSG_INFERENCE, f)

    def status(self):
        return self.frame(P.MSG_STATUS, dict(capture_us=100, features_us=200, inference_us=1500,
                                              free_heap=120000, dropped=0, mode=2))

    def samples(self, start, n=10):
        return self.frame(P.MSG_SAMPLES, dict(sample_index=start, rate_hz=100, channels=3,
                                               data=[(start + k) % 2000 - 1000 for k in range(3 * n)]))


class FakeLink:
    """Plays `script` (bytes, LinkLost instances, or floats = seconds of silence), then stays silent."""

    opened = 0

    def __init__(self, script, fail_open: Exception | None = None):
        self.script = list(script)
        self.fail_open = fail_open
        self.closed = False
        self.sent = []

    def open(self):
        if self.fail_open is not None:
            raise self.fail_open
        FakeLink.opened += 1

    def read(self):
        if not self.script:
            time.sleep(0.01)
            return b""
        item = self.script[0]
        if isinstance(item, Exception):
            self.script.pop(0)
            raise item
        if isinstance(item, float):
            self.script.pop(0)
            time.sleep(item)
            return b""
        return self.script.pop(0)

    def send(self, cmd, fields=None):
        self.sent.append((cmd, fields))

    def close(self, *, stop=True, grace=1.0):
        self.closed = True


def factory(*links):
    """A link_factory handing out the given links in turn (the last one repeats)."""
    links = list(links)

    def make():
        return links.pop(0) if len(links) > 1 else links[0]
    return make


LOST = LinkLost("fake port vanished")
