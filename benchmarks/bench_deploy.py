"""Deploy throughput on the virtual board, with mpremote's `fs cp -r` as the reference.

Both tools copy the same ~200 KB tree to the same virtual board in the same run:
  1. edgeloop deploy_files (first deploy: everything is sent)
  2. `mpremote connect PORT fs cp -r TREE :` (the real CLI; its ~start-up cost is measured
     with `mpremote connect PORT exec pass` and reported separately)
  3. edgeloop again with nothing changed, median of 5 (goal: < 10% of the first deploy); each
     run opens the port, checks the board's receiver, recovers, plans, and closes
Two trees: Python sources from this repository (text, compressible) and the same amount of
random bytes (like model weights: incompressible), so compression's share of the speed-up shows.
Also: the bare raw-REPL exec round trip.

Run: .venv/bin/python benchmarks/bench_deploy.py [--size 200000]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def text_tree(dest: Path, size: int) -> int:
    total = 0
    sources = sorted((REPO / "host").rglob("*.py")) + sorted((REPO / "firmware").rglob("*.py"))
    for src in sources:
        if total >= size:
            break
        data = src.read_bytes()
        out = dest / src.relative_to(REPO)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        total += len(data)
    return total


def noise_tree(dest: Path, size: int) -> int:
    rng = random.Random(7)
    total, i = 0, 0
    while total < size:
        n = min(rng.choice([2_000, 8_000, 20_000, 40_000]), size - total)
        out = dest / f"d{i % 4}" / f"blob{i}.bin"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(rng.randbytes(n))
        total += n
        i += 1
    return total


def mpremote(port: str, *args: str) -> float:
    start = time.perf_counter()
    # `resume`: no soft reset first, so mpremote pays only for the copy itself.
    subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def edgeloop_deploy(port: str, tree: Path, remote_root: str):
    from edgeloop.deploy.plan import deploy_files
    from edgeloop.link.device import Device

    files = [(p, f"{remote_root}/{p.relative_to(tree).as_posix()}") for p in sorted(tree.rglob("*")) if p.is_file()]
    start = time.perf_counter()
    with Device(port) as dev:
        result = deploy_files(dev, files, group="bench")
    return time.perf_counter() - start, result


def round_trip(port: str, n: int = 200) -> float:
    from edgeloop.link.device import Device

    with Device(port) as dev:
        dev.exec("pass")
        start = time.perf_counter()
        for _ in range(n):
            dev.exec("pass")
        return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000, help="bytes per tree (default 200000)")
    parser.add_argument("--board", default="rp2040")
    parser.add_argument("--port", help="benchmark this board instead of a fresh virtual one")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edgeloop-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            if args.port:
                vb, port = None, args.port
            else:
                from edgeloop.sim import VirtualBoard

                vb = stack.enter_context(VirtualBoard(board=args.board, flash_dir=work / "flash"))
                port = vb.port
            rt = round_trip(port)
            print(f"raw-REPL exec round trip: {rt * 1000:.2f} ms (mean of 200, edgeloop Device on {port})")
            startup = min(mpremote(port, "exec", "pass") for _ in range(3))
            print(f"mpremote start-up + connect (exec pass): {startup:.2f} s")
            print()
            print(f"{'tree':8} {'bytes':>8} {'edgeloop':>10} {'KB/s':>7} {'mpremote':>10} {'KB/s':>7} "
                  f"{'KB/s*':>7} {'ratio':>6} {'ratio*':>6} {'again':>8} {'again/first':>11}")
            run = f"{int(time.time()) % 100000}"  # fresh names, so a reused board starts empty too
            for name, make in (("text", text_tree), ("noise", noise_tree)):
                tree = work / f"mp_{name}_{run}"
                tree.mkdir()
                size = make(tree, args.size)
                remote = f"/el_{name}_{run}"
                first, r1 = edgeloop_deploy(port, tree, remote)
                assert len(r1.sent) == sum(1 for p in tree.rglob("*") if p.is_file())
                mp = mpremote(port, "fs", "cp", "-r", str(tree), ":")
                agains = []
                for _ in range(5):  # median of 5: one run is at the mercy of the board's GC pauses
                    again, r2 = edgeloop_deploy(port, tree, remote)
                    assert not r2.sent and not r2.hashed_on_board, "an unchanged deploy sent or hashed files"
                    agains.append(again)
                again = sorted(agains)[2]
                el_rate, mp_rate = size / first, size / mp
                mp_net = size / max(mp - startup, 1e-6)
                print(f"{name:8} {size:8d} {first:9.2f}s {el_rate / 1e3:7.0f} {mp:9.2f}s {mp_rate / 1e3:7.0f} "
                      f"{mp_net / 1e3:7.0f} {el_rate / mp_rate:5.1f}x {el_rate / mp_net:5.1f}x "
                      f"{again:7.3f}s {again / first:10.1%}")
                # Same bytes landed on the board (flash_dir is the virtual board's filesystem).
                for p in tree.rglob("*") if vb else ():
                    if p.is_file():
                        rel = p.relative_to(tree)
                        assert (Path(vb.flash_dir) / remote.lstrip("/") / rel).read_bytes() == p.read_bytes()
                        assert (Path(vb.flash_dir) / tree.name / rel).read_bytes() == p.read_bytes()
            print()
            print("KB/s* and ratio*: mpremote with its start-up subtracted (the fairest figure for mpremote).")
            print("goals: ratio >= 2x; again/first < 10%")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
