"""`edgeloop monitor --broker`: the fleet view, run as a user runs it against a real Mosquitto.

The messages are built by the board's own frame encoder (edgeloop_fw.protocol.FrameEncoder) and
wrapped by wire.encode; the expected cells are worked out here from the values put into the
frames (latency in ms, heap in KiB, the rate from the frames' board-clock spacing), not read back
from the view's code.
"""

from __future__ import annotations

import signal
import subprocess
import threading

from click.testing import CliRunner
from edgeloop_fw import protocol as P

from edgeloop.cli import cli
from edgeloop.fleet import wire
from edgeloop.fleet.watch import FleetState
from tests.tools import cli_process
from tests.tools.fleet_frames import publish, wait_for
from tests.tools.mosquitto import free_port

DEADLINE = 120.0


def _frame(enc: P.FrameEncoder, n: int) -> bytes:
    """The board frame the encoder just wrote to its serial line, without COBS and delimiter."""
    msg_type, seq, t_ms, payload = P.frame_decode(bytes(enc.wire[:n - 1]))
    return wire.raw_frame(msg_type, seq, t_ms, bytes(payload))


def _hello(device_id: str, classes: list[str]) -> dict:
    return {"rate_hz": 50, "channels": 3, "window": 50, "hop": 25, "mode": P.MODE_INFER, "scale": 0.001,
            "device_id": device_id, "board": "fake", "firmware": "test", "model_hash": "ab12cd34",
            "sensor": "accel", "units": "g", "classes": classes}


class Board:
    """One device's messages as its gateway publishes them: (topic, payload), its own sequence."""

    def __init__(self, device_id: str, gateway_id: str, classes: list[str]):
        self.device_id, self.gateway_id, self.classes = device_id, gateway_id, classes
        self.enc = P.FrameEncoder(max_payload=512)
        self.sequence = 0
        self.out: list[tuple[str, bytes]] = []

    def _put(self, kind: str, frame: bytes, skip: int = 0) -> None:
        self.sequence += skip  # numbers the gateway never published (its queue dropped them)
        self.out.append((wire.topic(self.device_id, kind), wire.encode(self.gateway_id, self.sequence, frame)))
        self.sequence += 1

    def hello(self):
        self._put("hello", _frame(self.enc, self.enc.message(P.MSG_HELLO, 0, _hello(self.device_id, self.classes))))

    def inference(self, t_ms: int, top: int, latency_us: int, skip: int = 0):
        n = len(self.classes)
        scores = [1000] * n
        scores[top] = 65535 - 1000 * (n - 1)
        self._put("inference", _frame(self.enc, self.enc.inference(t_ms, t_ms // 10, latency_us, top, scores, n,
                                                                  b"ab12cd34")), skip)

    def status(self, t_ms: int, free_heap: int, dropped: int):
        self._put("status", _frame(self.enc, self.enc.status(t_ms, 100, 200, 300, free_heap, dropped, P.MODE_INFER)))


def _fleet():
    """Three boards with known values; returns (messages in publishing order, expected cells)."""
    a = Board("dev-a", "gw-1", ["idle", "wave", "shake"])
    a.hello()
    for i in range(30):  # 20 ms apart on the board's clock: 50 inferences/s
        a.inference(1000 + 20 * i, top=i % 3, latency_us=1000 + i)
    a.status(1600, free_heap=40960, dropped=3)
    a.inference(1600, top=1, latency_us=1234)  # the last: wave, 1.234 ms

    b = Board("dev-b", "gw-2", ["left", "right", "up"])  # its hello was before the view started
    for i in range(12):  # 100 ms apart: 10 inferences/s; two numbers skipped before the 6th
        b.inference(5000 + 100 * i, top=2, latency_us=5000, skip=2 if i == 5 else 0)
    b.status(6200, free_heap=102400, dropped=0)

    c = Board("dev-c", "gw-1", ["yes", "no", "_silence"])
    c.hello()
    c.status(10, free_heap=20480, dropped=7)
    for i in range(4):  # 250 ms apart: 4 inferences/s
        c.inference(100 + 250 * i, top=0, latency_us=800)

    messages = []
    for k in range(max(len(x.out) for x in (a, b, c))):  # interleaved, as three gateways' streams are
        messages += [x.out[k] for x in (a, b, c) if k < len(x.out)]
    redelivered = c.out[-1]  # a gateway that resent a message whose PUBACK it missed
    messages.append(redelivered)
    expected = {  # device: gateway, class, inferences, inf/s, latency_ms, free_heap_KiB, drops, lost
        "dev-a": ["gw-1", "wave", "31", f"{30 / 0.6:.1f}", "1.23", "40.0", "3", "0"],
        "dev-b": ["gw-2", "2", "12", "10.0", "5.00", "100.0", "0", "2"],
        "dev-c": ["gw-1", "yes", "4", "4.0", "0.80", "20.0", "7", "0"],
    }
    return messages, expected


def _table(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    head = lines[0].split()
    assert head[:2] == ["device", "gateway"], stdout
    rows = {}
    for line in lines[1:-1]:
        cells = line.split()
        assert len(cells) == len(head), line
        rows[cells[0]] = cells[1:]
    return rows


class Watching:
    """`edgeloop monitor --broker URL` in its own process; stderr read line by line as it comes."""

    def __init__(self, url: str):
        self.url = url
        self.err: list[str] = []

    def __enter__(self) -> "Watching":
        self.proc = subprocess.Popen(cli_process.COMMAND + ["monitor", "--broker", self.url, "--seconds", "600"],
                                     env=cli_process.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=lambda: self.err.extend(iter(self.proc.stderr.readline, "")),
                                        daemon=True)
        self._reader.start()
        return self

    def saw(self, text: str) -> bool:
        return any(text in line for line in list(self.err))

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a user stops it; returns (exit code, stdout)."""
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=DEADLINE)
        self._reader.join(DEADLINE)
        return self.proc.returncode, out

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_each_device_is_one_line_with_the_values_it_published(broker):
    messages, expected = _fleet()
    bad = (wire.topic("dev-a", "inference"), b"junk")  # shorter than the fleet header
    messages.insert(len(messages) // 2, bad)
    # Published last, after everything else from the same client: once the view has refused it,
    # it has had every message before it (one publisher, QoS 1: the broker keeps their order).
    last = (wire.topic("dev-z", "status"), b"XX" + bytes(26))
    with Watching(broker.url) as w:
        wait_for(lambda: w.saw("watching edgeloop/+/+"), DEADLINE, "the view to subscribe")
        publish(broker.url, messages + [last])
        wait_for(lambda: w.saw("dev-z/status"), DEADLINE, "the view to refuse the last message")
        code, out = w.stop()
    assert code == 0, (out, w.err)
    assert "Traceback" not in "".join(w.err), w.err
    rows = _table(out)
    assert set(rows) == set(expected), out
    for device, cells in expected.items():
        assert rows[device][:8] == cells, (device, rows[device], out)
        assert rows[device][8].count(":") == 2, out  # last seen: the host's clock, HH:MM:SS
    good = len(messages) - 1
    assert out.strip().splitlines()[-1] == (f"3 device(s); {good + 2} messages from {broker.url}; "
                                            "refused: header 1, magic 1"), out


def test_an_unreachable_broker_is_one_line():
    r = CliRunner().invoke(cli, ["monitor", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--seconds", "5"])
    assert r.exit_code == 1, r.output
    assert r.output.startswith("edgeloop: cannot reach the broker mqtt://127.0.0.1:") and r.output.count("\n") == 1, \
        r.output


def test_broker_with_board_options_or_a_bad_url_is_one_line(tmp_path):
    for extra in (["--db", str(tmp_path / "x.sqlite")], ["--port", "/dev/null"], ["--plot"]):
        r = CliRunner().invoke(cli, ["monitor", "--broker", "mqtt://127.0.0.1:1", *extra])
        assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
        assert f"cannot be used with {extra[0]}" in r.output, r.output
    r = CliRunner().invoke(cli, ["monitor", "--broker", "http://x"])
    assert r.exit_code == 1 and r.output.startswith("edgeloop: --broker") and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "x.sqlite").exists()


def test_a_late_message_fills_its_gap_and_a_repeat_is_not_counted():
    """The sequence bookkeeping on its own: numbers 0, 3, 1, 3, 2 from one gateway."""
    b = Board("dev-q", "gw-9", ["x", "y"])
    for t in range(4):
        b.inference(10 * t, top=t % 2, latency_us=100 + t)
    order = [0, 3, 1, 3, 2]
    s = FleetState()
    seen_lost = []
    for k in order:
        s.apply(wire.decode(*b.out[k]), now=1.0)
        seen_lost.append(s.devices["dev-q"].lost)
    row = s.devices["dev-q"]
    assert seen_lost == [0, 2, 1, 1, 0]
    assert row.inferences == 4 and row.duplicates == 1
    assert (row.last_class, row.latency_us) == ("1", 103)  # no hello: the index; the newest message's values


def test_seconds_stops_it_and_a_quiet_fleet_says_so(broker):
    r = subprocess.run(cli_process.COMMAND + ["monitor", "--broker", broker.url, "--seconds", "1"],
                       env=cli_process.env(), capture_output=True, text=True, timeout=DEADLINE,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["no device published while watching",
                                     f"0 device(s); 0 messages from {broker.url}; refused: none"], r.stdout


def test_a_broker_that_restarts_is_watched_again(broker):
    first, expected = _fleet()
    a_msgs = [m for m in first if m[0].startswith("edgeloop/dev-a/")]
    with Watching(broker.url) as w:
        wait_for(lambda: w.saw("watching edgeloop/+/+"), DEADLINE, "the view to subscribe")
        publish(broker.url, a_msgs[:10])
        broker.stop()
        wait_for(lambda: w.saw("lost the broker"), DEADLINE, "the view to see the broker go")
        broker.start()
        wait_for(lambda: sum("watching edgeloop/+/+" in line for line in list(w.err)) == 2, DEADLINE,
                 "the view to subscribe again")
        publish(broker.url, a_msgs[10:] + [(wire.topic("dev-z", "status"), b"XX" + bytes(26))])
        wait_for(lambda: w.saw("dev-z/status"), DEADLINE, "the view to refuse the last message")
        code, out = w.stop()
    assert code == 0, (out, w.err)
    rows = _table(out)
    assert rows["dev-a"][:8] == expected["dev-a"], out  # every message, before and after the restart
