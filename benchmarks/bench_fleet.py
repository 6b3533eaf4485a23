"""Frames per second through gateway -> Mosquitto -> collector -> SQLite or PostgreSQL, next to the local log.

Three processes on this machine, as in a deployment: a real Mosquitto (started here, in a
temporary folder), `edgeloop collect`, and a gateway process fed with inference frames of
N boards made by the board's own encoder (tests/tools/fleet_gateway_proc.py: one reader
thread per board, as a gateway's serial ports), as fast as it takes them. The figure is
frames stored in the collector's log per second, from the gateway's start until every
board's last sequence number is in the log, and the check that each was stored once (the
unique key) and none is missing. Reference from the same run: the same number of frames
written straight into a local log by Store (what `edgeloop monitor` does), frames per second.

Beside the rate, the CPU each process spent (user + system, from /proc, while the frames went
through): on a machine shared with other work the rate says how busy the machine was as much
as how fast the fleet is, while CPU seconds per frame say which process bounds it (the
busiest one cannot go past 1 / its seconds per frame on one core; the sum over all of them, with
2 cores, bounds the whole).

    PYTHONPATH=.:host:firmware .venv/bin/python benchmarks/bench_fleet.py [--inferences 20000] \
        [--boards 1,10,100] [--postgres] [--tls]

--tls: each run again with the fleet secured (docs/fleet.md, Security): Mosquitto on TLS with the
password file, ACL and CRL of a fleet made here, the gateway on a client certificate, the collector
on a password and checking every message against the fleet's registry (--fleet-dir); the TLS cost
is that run's rate next to the plain one's.
"""

from __future__ import annotations

import argparse
import os
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


def _cpu(pid: int) -> float:
    """CPU seconds (user + system, its reaped children's too) of process `pid` so far."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")


def _pg_cpu(postmaster: int, skip: int) -> float:
    """CPU seconds so far of PostgreSQL's processes (the postmaster, and its children: the
    collector's backend, the WAL writer, ...) but the bench's own counting backend `skip`."""
    total = _cpu(postmaster)
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != skip:
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(f[1]) == postmaster:
                total += sum(int(x) for x in f[11:13]) / os.sysconf("SC_CLK_TCK")
    return total


def secured(folder: Path, boards: int):
    """A fleet for one TLS run: (Fleet, the collector's collect options, the gateway's credential)."""
    from edgeloop.fleet.credentials import Fleet

    f = Fleet(folder / "fleet")
    f.init(["127.0.0.1"])
    col = f.add("collector", "collector")
    gw = f.add("gw-proc", "gateway", auth="cert")
    for name in (["bench"] if boards == 1 else [f"bench-{i}" for i in range(boards)]):
        f.add(name, "board", gateway="gw-proc")
    col_opts = ["--ca", str(f.ca_cert), "--username", "collector", "--password-file", str(col.password_file),
                "--fleet-dir", str(f.root)]
    return f, col_opts, {"ca": str(f.ca_cert), "cert": str(gw.cert), "key": str(gw.key)}


def fleet(n: int, boards: int, total: int, folder: Path, pg=None, tls: bool = False) -> tuple[float, str, dict]:
    """Frames per second into the collector's log, the collector's summary and the CPU seconds
    each process spent; `total` frames from `boards` boards must all be there, each once."""
    import json

    pg_url = pg.url if pg else None
    col_opts, gw_auth, secure = [], {}, None
    if tls:
        secure, col_opts, gw_auth = secured(folder, boards)
    broker = Mosquitto(folder / "broker", secure=secure).start()
    gw_url = broker.cert_url if tls else broker.url
    db = pg_url or str(folder / "fleet.sqlite")
    err = (folder / "collect.err").open("w")
    col = subprocess.Popen(cli_process.COMMAND + ["collect", "--broker", broker.url, "--db", db] + col_opts,
                           env=cli_process.env(), stdout=subprocess.PIPE, stderr=err, text=True)
    count = _pg_count(pg_url) if pg_url else lambda: sum(len(v) for v in stored_sequences(db).values())
    try:
        wait_for(lambda: "connected" in (folder / "collect.err").read_text(), 60, "the collector")
        pg_pid = int((pg.data / "postmaster.pid").read_text().split()[0]) if pg else None
        cpu0 = {"collector": _cpu(col.pid), "mosquitto": _cpu(broker.proc.pid)}
        if pg_pid:
            count()  # its connection opened before the CPU is read
            counter = _PG_COUNTER[pg_url].info.backend_pid
            cpu0["postgres"] = _pg_cpu(pg_pid, counter)
        t0 = time.perf_counter()
        gw = subprocess.Popen([sys.executable, "-m", "tests.tools.fleet_gateway_proc", gw_url,
                               str(folder / "q.sqlite"), "bench", str(n), "1e9", str(boards), json.dumps(gw_auth)],
                              env=cli_process.env())
        gw_cpu = [0.0]

        def done() -> bool:
            gw_cpu[0] = max(gw_cpu[0], _cpu(gw.pid) if gw.poll() is None else 0.0)
            return count() >= total
        wait_for(done, 1200, "every frame", 0.2)
        rate = total / (time.perf_counter() - t0)
        cpu = {"gateway": gw_cpu[0], "collector": _cpu(col.pid) - cpu0["collector"],
               "mosquitto": _cpu(broker.proc.pid) - cpu0["mosquitto"]}
        if pg_pid:
            cpu["postgres"] = _pg_cpu(pg_pid, counter) - cpu0["postgres"]
        gw.wait(120)
        col.send_signal(signal.SIGTERM)
        out, _ = col.communicate(timeout=60)
        stored = count()
        if stored != total:  # the unique key makes a double impossible; a surplus would be a bug here
            raise SystemExit(f"{stored} frames stored, {total} sent")
        return rate, out.strip(), cpu
    finally:
        if col.poll() is None:
            col.kill()
        broker.stop()


_PG_COUNTER = {}


def _pg_count(url: str):
    """One connection per run, opened before the CPU is read, whose backend the CPU leaves out."""
    import psycopg

    if url not in _PG_COUNTER:
        _PG_COUNTER[url] = psycopg.connect(url, autocommit=True)

    def count() -> int:
        try:
            return _PG_COUNTER[url].execute("SELECT count(*) FROM fleet_messages").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0
    return count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inferences", type=int, default=20000, help="in all, shared by the boards")
    ap.add_argument("--boards", default="1", help="comma-separated board counts, one run each (e.g. 1,10,100)")
    ap.add_argument("--postgres", action="store_true", help="also into PostgreSQL (a server started here)")
    ap.add_argument("--tls", action="store_true", help="each run also secured (TLS, credentials, ACL, identity check)")
    a = ap.parse_args()
    pg = None
    if a.postgres:
        from tests.tools.postgres import Postgres
        pg = Postgres().start()
    try:
        frames = list(board_frames("bench", a.inferences))
        with tempfile.TemporaryDirectory() as d:
            ref = local(frames, Path(d))
        print(f"reference, {len(frames)} frames into a local log (Store, as monitor): {ref:,.0f} frames/s")
        for boards in (int(b) for b in a.boards.split(",")):
            per = a.inferences // boards
            total = boards * len(list(board_frames("x", per)))
            for name, server in [("SQLite", None)] + ([("PostgreSQL", pg)] if pg else []):
                plain = None
                for tls in [False] + ([True] if a.tls else []):
                    if server:
                        _reset(server.url)
                    with tempfile.TemporaryDirectory() as d:
                        rate, summary, cpu = fleet(a.inferences, boards, total, Path(d), server, tls=tls)
                    how = "mqtts (TLS, per-device credentials, ACL, identity check)" if tls else "mqtt"
                    cost = f", {rate / plain:.2f}x plain MQTT" if tls else ""
                    plain = plain or rate
                    per = ", ".join(f"{k} {v:.2f} s ({v / total * 1e6:.0f} us/frame)" for k, v in cpu.items())
                    print(f"{boards:>4} board(s), {total} frames: gateway -> mosquitto {how} -> collect -> {name}: "
                          f"{rate:,.0f} frames/s ({rate / ref:.2f}x the local log{cost}), each stored once; "
                          f"CPU: {per}; all {sum(cpu.values()) / total * 1e6:.0f} us/frame; collector: {summary}",
                          flush=True)
    finally:
        if pg:
            pg.stop()


def _reset(url: str) -> None:
    """An empty database for each run: the collector creates its tables."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP SCHEMA public CASCADE")
        c.execute("CREATE SCHEMA public")
    if url in _PG_COUNTER:  # its cached plan named the dropped table
        _PG_COUNTER.pop(url).close()


if __name__ == "__main__":
    main()
