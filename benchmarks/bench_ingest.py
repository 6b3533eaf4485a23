"""Host ingest speed (parse + log to SQLite) from a recorded byte stream, next to USB full speed.

Reference: a USB full-speed CDC link moves at most ~1 MB/s (12 Mbit/s bus,
bulk transfers); the goal is ingest >= 5x that on one core, so the host is
never what drops frames. Also prints the wire overhead of a frame with a
64-byte payload (goal <= 10%) and the smallest payload that meets it.

    .venv/bin/python benchmarks/bench_ingest.py [--frames 40000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from edgeloop_fw import protocol as P
from edgeloop.log.store import Store
from edgeloop.stream.session import StreamSession

USB_FS_BYTES_PER_S = 1_000_000


def recorded_stream(n: int, seed: int = 1) -> bytes:
    """A board's stream: hello, then per window 1 inference (with its 128x3 input window every 4th),
    2 sample frames of 10x3 int16, and a status every 10 windows."""
    rng = random.Random(seed)
    seq = 0
    out = bytearray(b"\x00")

    def add(t, f):
        nonlocal seq
        out.extend(P.frame_encode(t, seq, seq * 10, P.encode_payload(t, f)))
        seq = (seq + 1) & 0xFFFF

    add(P.MSG_HELLO, dict(rate_hz=100, channels=3, window=128, hop=64, mode=2, scale=0.001, device_id="bench",
                          board="rp2040", firmware="fw", model_hash="3f2a9c01", sensor="accel", units="g",
                          classes=["idle", "snake", "updown", "wave", "other"]))
    i = 0
    while seq < n:
        for _ in range(2):
            add(P.MSG_SAMPLES, dict(sample_index=i * 20, rate_hz=100, channels=3,
                                    data=[rng.randrange(-2000, 2000) for _ in range(30)]))
        w = [rng.randrange(-2000, 2000) for _ in range(384)] if i % 4 == 0 else None
        add(P.MSG_INFERENCE, dict(window_index=i, latency_us=1500, top=i % 5, scores=[rng.randrange(65536) for _ in range(5)],
                                  model_hash="3f2a9c01", window=w, window_channels=3))
        if i % 10 == 0:
            add(P.MSG_STATUS, dict(capture_us=100, features_us=300, inference_us=1500, free_heap=150000, dropped=0, mode=2))
        i += 1
    return bytes(out)


class _Replay:
    def __init__(self, data: bytes, chunk: int = 4096):
        self.data, self.chunk, self.pos = data, chunk, 0

    def open(self):
        pass

    def read(self):
        if self.pos >= len(self.data):
            raise KeyboardInterrupt  # end of the recording
        b = self.data[self.pos:self.pos + self.chunk]
        self.pos += self.chunk
        return b

    def close(self, **kw):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40000)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (the machine is shared)")
    args = ap.parse_args()
    stream = recorded_stream(args.frames)
    best = None
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            store = Store(Path(d) / "bench.sqlite")
            session = StreamSession(lambda: _Replay(stream), store, port="replay", silence=1e9)
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                session.run(None)
            except KeyboardInterrupt:
                pass
            store.flush()
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            rows = store.count("inferences") + store.count("samples")
            store.close()
        if best is None or dt < best[0]:
            best = (dt, cpu, rows, session.reader.counts)
    dt, cpu, rows, c = best
    mbps = len(stream) / dt / 1e6
    print(f"ingest (parse + SQLite, WAL, batched commits): {len(stream) / 1e6:.2f} MB, {c.frames} frames, "
          f"{rows} rows in {dt:.2f} s (best of {args.repeat}; {cpu:.2f} s CPU)")
    print(f"  {mbps:.2f} MB/s, {c.frames / dt:,.0f} frames/s wall; {len(stream) / cpu / 1e6:.2f} MB/s per CPU second")
    print(f"  reference: USB full-speed CDC {USB_FS_BYTES_PER_S / 1e6:.1f} MB/s -> {mbps * 1e6 / USB_FS_BYTES_PER_S:.1f}x "
          f"(goal >= 5x)")
    t0 = time.perf_counter()
    from edgeloop.stream.reader import FrameReader
    r = FrameReader()
    for i in range(0, len(stream), 4096):
        for fr in r.feed(stream[i:i + 4096]):
            P.decode_payload(fr.msg_type, fr.payload)
    dt2 = time.perf_counter() - t0
    print(f"  parse + decode only: {len(stream) / dt2 / 1e6:.2f} MB/s")
    for n in (64, 140):
        wire = len(P.frame_encode(P.MSG_LOG, 0, 0, bytes(range(1, n + 1))))
        print(f"wire overhead, {n}-byte payload: {wire} bytes on the wire, {(wire - n) / n:.1%} "
              f"(goal <= 10%{', met' if (wire - n) / n <= 0.10 else ', NOT met'})")
    best = next(n for n in range(1, 4096) if (len(P.frame_encode(P.MSG_LOG, 0, 0, b"\x01" * n)) - n) / n <= 0.10)
    print(f"  smallest payload within 10%: {best} bytes (fixed cost: {P.HEADER_SIZE} header + {P.CRC_SIZE} CRC"
          " + 1 COBS + 1 delimiter)")
    # The bound (docs/protocol.md): COBS code + delimiter + CRC-16 leave 64 * 10% - 4 = 2.4 bytes for a header
    # that needs type (4 bits) + length (7) + seq (9) + time delta (10) = 30 bits; the tightest 3-byte header
    # (type|seq nibbles, varint length, 1-byte ms delta) gives:
    tight = 64 + 3 + P.CRC_SIZE + 2
    print(f"  bound: any header keeping type, seq, time, length, CRC-16 and COBS costs >= 3 bytes -> "
          f">= {tight} bytes, {(tight - 64) / 64:.1%} for 64 bytes; app sample frames carry 150 bytes: "
          f"{len(P.frame_encode(P.MSG_SAMPLES, 0, 0, bytes(157)))} on the wire, "
          f"{(len(P.frame_encode(P.MSG_SAMPLES, 0, 0, bytes(157))) - 157) / 157:.1%}")


if __name__ == "__main__":
    main()
