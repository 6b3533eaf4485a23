"""Soak: a virtual board streams gesture inferences for hours; does hour N look like minute 5?

The demo's own steps set the board up (rp2040 virtual board, heap capped, firmware and the
gesture model deployed, the held-out takes in the replay sensor, which loops), then one
stream runs for --minutes. Every --every seconds it samples:
  - the board's free heap (status frames; the smallest seen in the interval),
  - inference latency on the board (latency_us of the interval's inference frames),
  - frames lost (the host parser's dropped + corrupt counts, and the board's own dropped count),
  - host memory (this process's RSS, and the virtual board's node process RSS),
  - outputs: the replay loops with a fixed period, so a window that starts at the same place
    in the loop sees the same samples; its top class and scores must equal the first time
    that place was seen. A model that gave other bytes at hour 2 than at minute 1 shows here.
At the end it prints each figure's drift: the mean of the last 10 samples against the first 10.
Goal: heap and latency flat, 0 frames lost, host memory flat, 0 changed outputs.

    python benchmarks/soak.py --minutes 120            # the closing note's run
    python benchmarks/soak.py --minutes 10 --every 30  # a short check
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edgeloop_fw import protocol as P

from edgeloop.demo import steps as S
from edgeloop.log.store import Store
from edgeloop.stream.link import BoardLink
from edgeloop.stream.session import StreamSession


def rss_kib(pid: int | str = "self") -> int:
    """Resident memory of a process in KiB (Linux /proc), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """Accumulates the frames of one interval and the run's output check."""

    def __init__(self, hop: int, period: int):
        self.hop, self.period = hop, period
        self.first_output: dict[int, tuple] = {}
        self.changed = 0
        self.compared = 0
        self.board_dropped = 0
        self.reset()

    def reset(self):
        self.latencies: list[int] = []
        self.heaps: list[int] = []
        self.inferences = 0

    def on_frame(self, msg_type, seq, t_ms, f):
        if msg_type == P.MSG_HELLO:  # the app (re)started: the replay starts over with window 1
            self.first_output.clear()
        elif msg_type == P.MSG_INFERENCE:
            self.inferences += 1
            self.latencies.append(f["latency_us"])
            place = ((f["window_index"] - 1) * self.hop) % self.period
            out = (f["top"], tuple(f["scores"]))
            seen = self.first_output.setdefault(place, out)
            if seen is not out:
                self.compared += 1
                self.changed += seen != out
        elif msg_type == P.MSG_STATUS:
            self.heaps.append(f["free_heap"])
            self.board_dropped = max(self.board_dropped, f["dropped"])


def drift(rows: list[dict], key: str, n: int = 10) -> str:
    vals = [r[key] for r in rows if r[key] is not None]
    if len(vals) < 2:
        return f"{key}: too few samples"
    k = min(n, len(vals) // 2)
    first, last = statistics.mean(vals[:k]), statistics.mean(vals[-k:])
    rel = f" ({(last - first) / first * 100:+.2f} %)" if first else ""
    return f"{key}: first {k} samples {first:,.1f}, last {k} {last:,.1f}, drift {last - first:+,.1f}{rel}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--every", type=float, default=60.0, help="seconds between samples (default 60)")
    ap.add_argument("--board", default="rp2040")
    args = ap.parse_args(argv)

    ctx = S.DemoContext(board=args.board, db=Path(tempfile.mkdtemp(prefix="edgeloop-soak-")) / "soak.sqlite")
    with ctx.stack:
        for step in (S.step_recordings, S.step_start_board, S.step_board_facts, S.step_deploy,
                     S.step_ask_firmware, S.step_load_replay):
            for line in step(ctx):
                print(f"  {line}", flush=True)
        rs = ctx.replay
        S.release_for_stream(ctx)
        node_pid = getattr(getattr(ctx.virtual, "_proc", None), "pid", None)
        sampler = Sampler(rs.hop, rs.frames)
        flags = P.STREAM_INFERENCE | P.STREAM_STATUS
        store = Store(ctx.db)
        session = StreamSession(lambda: BoardLink(ctx.port, flags=flags, mode=P.MODE_INFER, timeout=30), store,
                                port=ctx.port, on_frame=sampler.on_frame)
        rows: list[dict] = []
        t0 = time.monotonic()
        next_at = [t0 + args.every]
        print(f"{'min':>6} {'infer':>6} {'lat ms':>7} {'free heap':>10} {'lost':>5} {'board drop':>10} "
              f"{'host KiB':>9} {'node KiB':>9} {'changed':>8}", flush=True)

        def tick(_stats):
            now = time.monotonic()
            if now < next_at[0]:
                return
            next_at[0] += args.every
            c = session.reader.counts
            row = {"minute": (now - t0) / 60, "inferences": sampler.inferences,
                   "latency_ms": statistics.mean(sampler.latencies) / 1000 if sampler.latencies else None,
                   "free_heap": min(sampler.heaps) if sampler.heaps else None,
                   "lost_frames": c.dropped + c.corrupt, "board_dropped": sampler.board_dropped,
                   "host_rss_kib": rss_kib(), "node_rss_kib": rss_kib(node_pid) if node_pid else 0,
                   "changed_outputs": sampler.changed, "disconnects": session.stats.disconnects}
            rows.append(row)
            sampler.reset()
            lat = f"{row['latency_ms']:.1f}" if row["latency_ms"] is not None else "-"
            print(f"{row['minute']:6.1f} {row['inferences']:6d} {lat:>7} {row['free_heap'] or 0:>10,} "
                  f"{row['lost_frames']:5d} {row['board_dropped']:10d} {row['host_rss_kib']:9,} "
                  f"{row['node_rss_kib']:9,} {row['changed_outputs']:8d}", flush=True)

        try:
            session.run(args.minutes * 60, on_tick=tick)
        finally:
            store.close()
    print(f"\nsoak: {len(rows)} samples over {(time.monotonic() - t0) / 60:.1f} min on a virtual {args.board}; "
          f"{sampler.compared:,} repeated windows compared with their first pass, {sampler.changed} changed; "
          f"{session.stats.disconnects} disconnects")
    for key in ("latency_ms", "free_heap", "host_rss_kib", "node_rss_kib", "inferences"):
        print("  " + drift(rows, key))
    lost = rows[-1]["lost_frames"] if rows else 0
    print(f"  frames lost (host parser): {lost}; samples the board dropped: {sampler.board_dropped}")
    ok = sampler.changed == 0 and lost == 0 and session.stats.disconnects == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
