"""Frames per second through gateway -> Mosquitto -> collector -> SQLite, next to the local log.

Three processes on this machine, as in a deployment: a real Mosquitto (started here, in a
temporary folder), `edgeloop collect`, and a gateway process fed with N inference frames of one
board made by the board's own encoder (tests/tools/fleet_gateway_proc.py), as fast as it takes
them. The figure is frames stored in the collector's log per second, from the gateway's start
until the last sequence number is in the log. Reference from the same run: the same frames
written straight into a local log by Store (what `edgeloop monitor` does), frames per second.

    PYTHONPATH=.:host:firmware .venv/bin/python benchmarks/bench_fleet.py [--inferences 20000]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgeloop_fw import protocol as P
from edgeloop.log.store import Store
from tests.tools import cli_process
from tests.tools.fleet_frames import board_frames, stored_sequences, wait_for
from tests.tools.mosquitto import Mosquitto


def local(frames, folder: Path) -> float:
    t0 = time.perf_counter()
    with Store(folder / "local.sqlite") as st:
        for msg_type, seq, t_ms, payload in frames:
            f = P.decode_payload(msg_type, payload)
            if msg_type == P.MSG_HELLO:
                st.begin_session(f)
            elif msg_type == P.MSG_INFERENCE:
                st.add_inference(f, seq, t_ms)
            elif msg_type == P.MSG_STATUS:
                st.add_status(f, t_ms)
    return len(frames) / (time.perf_counter() - t0)


def fleet(n: int, total: int, folder: Path) -> tuple[float, str]:
    broker = Mosquitto(folder / "broker").start()
    db = folder / "fleet.sqlite"
    err = (folder / "collect.err").open("w")
    col = subprocess.Popen(cli_process.COMMAND + ["collect", "--broker", broker.url, "--db", str(db)],
                           env=cli_process.env(), stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        wait_for(lambda: "connected" in (folder / "collect.err").read_text(), 60, "the collector")
        t0 = time.perf_counter()
        gw = subprocess.Popen([sys.executable, "-m", "tests.tools.fleet_gateway_proc", broker.url,
                               str(folder / "q.sqlite"), "bench", str(n), "1e9"], env=cli_process.env())
        wait_for(lambda: len(stored_sequences(db).get(("bench", "gw-proc"), [])) == total, 600, "every frame", 0.02)
        rate = total / (time.perf_counter() - t0)
        gw.wait(60)
        col.send_signal(signal.SIGTERM)
        out, _ = col.communicate(timeout=60)
        return rate, out.strip()
    finally:
        if col.poll() is None:
            col.kill()
        broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inferences", type=int, default=20000)
    a = ap.parse_args()
    frames = list(board_frames("bench", a.inferences))
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        ref = local(frames, folder)
        rate, summary = fleet(a.inferences, len(frames), folder)
    print(f"frames: {len(frames)} (1 hello, {a.inferences} inferences, {len(frames) - a.inferences - 1} status)")
    print(f"gateway -> mosquitto -> collect -> SQLite: {rate:,.0f} frames/s")
    print(f"reference, the same frames into a local log (Store, as monitor): {ref:,.0f} frames/s")
    print(f"collector: {summary}")


if __name__ == "__main__":
    main()
