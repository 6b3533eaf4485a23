"""Raw-REPL exec round trip on the virtual board, next to references from the same run.

    .venv/bin/python benchmarks/bench_repl.py [N]

Figures (median over N):
  - edgeloop Device.exec("pass") on the virtual board (raw-paste, emulated by the bridge);
  - the same through mpremote's transport with raw-paste turned off (plain raw REPL);
  - a 1-byte round trip through a bare pty with an echo thread: the floor any
    pty-attached board could reach on this machine;
  - 1 MiB of board output (the pty's device->host throughput).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
import tty


def median_ms(fn, n):
    fn()  # warm up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def pty_echo_round_trip(n):
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = False

    def echo():
        while not stop:
            data = os.read(master, 64)
            os.write(master, data)

    threading.Thread(target=echo, daemon=True).start()

    def one():
        os.write(slave, b"x")
        os.read(slave, 1)

    ms = median_ms(one, n)
    stop = True
    os.write(slave, b"q")
    return ms


def main(n=200):
    from edgeloop.link.device import Device
    from edgeloop.sim import VirtualBoard

    with VirtualBoard("rp2040", register=False) as vb, Device(vb.port) as dev:
        paste = median_ms(lambda: dev.exec("pass"), n)
        code = "x = 0\n" + "x += 1\n" * 500  # ~3.5 KB of source
        paste_big = median_ms(lambda: dev.exec(code), max(10, n // 10))
        t = dev.transport
        t.use_raw_paste = False
        plain = median_ms(lambda: dev.exec("pass"), n)
        plain_big = median_ms(lambda: dev.exec(code), max(10, n // 10))
        t.use_raw_paste = True
        # Read the stream with pyserial directly: mpremote's follow() reads
        # one byte per call and would measure itself, not the board.
        t.exec_raw_no_follow("import sys\nb = bytes(range(5, 256)) * 256\nfor i in range(16):\n"
                             "    sys.stdout.buffer.write(b)")
        t0 = time.perf_counter()
        got = bytearray()
        while not got.endswith(b"\x04\x04>"):
            got += t.serial.read(max(1, t.serial.in_waiting))
        mib_s = (len(got) - 3) / (time.perf_counter() - t0) / 1048576
    echo = pty_echo_round_trip(n)
    print(f"virtual board rp2040, median of {n}:")
    print(f"  Device.exec('pass')           raw-paste    {paste:7.2f} ms")
    print(f"  mpremote exec, plain raw REPL (reference)  {plain:7.2f} ms")
    print(f"  3.5 KB of source              raw-paste    {paste_big:7.2f} ms   plain raw REPL {plain_big:7.2f} ms")
    print(f"  bare pty echo, 1 byte (floor, reference)   {echo:7.3f} ms")
    print(f"  board -> host output                       {mib_s:7.1f} MiB/s ({len(got) - 3} bytes)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
