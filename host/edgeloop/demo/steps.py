"""`edgeloop demo` as a library: a list of named steps over one shared context.

Each step does one thing a user would do by hand (find the recordings, start
a board, deploy, stream, check the result) and returns the lines worth
showing, so the CLI can announce a step before it runs and print its lines
after. The same steps run on a real board (`port` given): only the first
one changes, and the replayed recordings go to the board's flash, so what is
measured is the same code path either way.
"""

from __future__ import annotations

import ast
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgeloop.boards import profiles as boards
from edgeloop.link.transfer import board_script

from edgeloop.deploy.board_config import CONFIG, REPLAY

STALL = 60.0  # s without a new window (a keyword window takes ~0.6 s on an idle virtual board)


@dataclass
class DemoContext:
    board: str = "rp2040"
    port: str | None = None  # an existing board instead of a virtual one
    data_dir: Path | None = None  # ../shared/data by default
    seconds: float | None = None  # replay at most this much of each take
    keyword: bool = False  # the keyword model and TFLM's recordings instead of gestures
    model_dir: Path | None = None  # a gesture model folder (CNN or trees); models/gesture by default
    every: int = 2  # keyword: run the model every this many 20 ms hops (2: one window per recording)
    capture: dict | None = None  # capture rules for /edgeloop.json (checked, as `deploy --keep-*` writes them)
    db: Path = Path("edgeloop-log.sqlite")
    progress: Callable[[int, int, str], None] | None = None
    on_stream: Callable[[object], None] | None = None  # gets the StreamSession before it starts
    on_tick: Callable[[object], None] | None = None  # gets the StreamSession ~10 times a second
    stack: ExitStack = field(default_factory=ExitStack)
    device: object = None
    virtual: object = None
    info: dict = field(default_factory=dict)
    deploy: object = None
    firmware: dict = field(default_factory=dict)
    replay: object = None  # demo_data.ReplaySet
    summary: object = None  # demo_report.Summary


@dataclass(frozen=True)
class Step:
    title: str  # may use {board}; `connected` replaces it when the user gave a port
    run: Callable[[DemoContext], list[str]]
    connected: str = ""

    def describe(self, ctx: DemoContext) -> str:
        return (self.connected if ctx.port and self.connected else self.title).format(
            board=ctx.board, sensor="microphone" if ctx.keyword else "IMU",
            what="recordings" if ctx.keyword else "held-out takes")


def prepare(ctx: DemoContext) -> DemoContext:
    """Everything that can be refused before a board is touched: the model, the recordings, the port."""
    from edgeloop.demo.data import gesture_set, keyword_set

    if ctx.port is not None and not ctx.port.startswith(("socket://", "rfc2217://")) \
            and not Path(ctx.port).exists():
        from edgeloop.errors import DeviceNotFound

        raise DeviceNotFound(f"no board at {ctx.port}: the port does not exist; run `edgeloop devices` "
                             "to see the ports there are, or drop --port to use a virtual board")
    if ctx.replay is None:
        ctx.replay = keyword_set(ctx.data_dir, every=ctx.every) if ctx.keyword else \
            gesture_set(ctx.data_dir, model_dir=ctx.model_dir, seconds=ctx.seconds)
    return ctx


def step_recordings(ctx: DemoContext) -> list[str]:
    rs = prepare(ctx).replay
    card = rs.info.model
    lines = [f"model      {rs.model_file} ({card['bytes']:,} B, {len(rs.classes)} classes: "
             f"{', '.join(rs.classes)}; window {rs.window}, hop {rs.hop})"]
    if rs.kind == "keyword":
        lines += [f"recordings {', '.join(s.name for s in rs.segments)} (TFLM's real speech; noise counts "
                  "as silence)",
                  f"replay     {rs.frames:,} samples = {rs.seconds:.1f} s at {rs.replay.rate_hz:g} Hz; "
                  f"the spotter (edgeloop_fw.kws) runs the model every {rs.every} hops: "
                  f"{len(rs.expected())} inferences"]
        return lines
    return lines + [f"held out   {len(rs.segments)} take(s) the model never trained on (model.json split.test): "
                    + ", ".join(f"{s.label}" for s in rs.segments),
                    f"replay     {rs.frames:,} frames = {rs.seconds:.1f} s at {rs.replay.rate_hz:g} Hz, "
                    f"{rs.n_windows} windows, from {', '.join(str(p) for p in rs.sources)}"]


def step_start_board(ctx: DemoContext) -> list[str]:
    from edgeloop.link.device import Device

    if ctx.port is None:
        from edgeloop.sim import VirtualBoard

        ctx.virtual = ctx.stack.enter_context(VirtualBoard(board=ctx.board))
        ctx.port = ctx.virtual.port
        where = f"virtual {ctx.board} board (real MicroPython, WebAssembly build) on {ctx.port}"
    else:
        where = f"board on {ctx.port}"
    ctx.device = ctx.stack.enter_context(Device(ctx.port))
    return [f"{where}, raw REPL open"]


def step_board_facts(ctx: DemoContext) -> list[str]:
    from edgeloop.deploy.plan import open_session
    from edgeloop.link.discover import board_info

    # The same report as `edgeloop info`, then what deploy needs to know on top of it.
    info = ctx.info = board_info(ctx.device)
    session = ctx.session = open_session(ctx.device)
    space = session.space()
    lines = [f"firmware     {info['firmware']} {info['version']} ({info['platform']})"]
    mpy = info.get("mpy_decoded")
    if mpy:
        lines.append(f"_mpy         {info['mpy']}: .mpy ABI {mpy['abi']}, native arch {mpy['arch'] or 'none'}")
    else:
        lines.append("_mpy         not reported (deploy sends sources)")
    if space.get("heap") is not None:
        lines.append(f"heap free    {space['heap']:,} bytes")
    if space.get("free") is not None:
        lines.append(f"filesystem   {space['free']:,} bytes free of {space['total']:,}")
    lines.append(f"inflate      {session.info.get('inflate') or 'none (raw transfer)'}")
    profile = boards.load(ctx.board)
    matches = info.get("profiles") or []
    verdict = "matches" if profile.name in matches else \
        f"does NOT match (the board looks like {', '.join(matches) or 'no known profile'})"
    lines.append(f"profile      {profile.name} ({profile.title}) {verdict}; expects arch "
                 f"{profile.mpy_arch or 'none'}, heap {profile.heap_bytes:,}, fs {profile.fs_bytes:,}")
    return lines


def step_deploy(ctx: DemoContext) -> list[str]:
    from edgeloop.deploy.firmware import deploy_firmware

    r = ctx.deploy = deploy_firmware(ctx.device, board=ctx.board, models=[ctx.replay.model_file],
                                     progress=ctx.progress)
    lines = [f"{len(r.sent)} file(s) sent (firmware, and the model as /models/{ctx.replay.model_file.name}), {r.bytes_sent:,} bytes in {r.seconds:.2f} s "
             f"({r.bytes_per_second / 1024:.0f} KiB/s, {'deflate' if r.compressed else 'raw'}), "
             f"{len(r.unchanged)} unchanged"]
    lines += [f"note: {n}" for n in r.notes if not n.startswith("skipped ")]
    by_reason: dict[str, list[str]] = {}
    for src, why in r.skipped:
        by_reason.setdefault(why, []).append(src.removeprefix("firmware/edgeloop_fw/"))
    lines += [f"skipped {len(names)} file(s) ({why}): {', '.join(names)}" for why, names in by_reason.items()]
    return lines


def step_ask_firmware(ctx: DemoContext) -> list[str]:
    out = ctx.device.exec(board_script("fw_report"), timeout=30)
    fw = ctx.firmware = ast.literal_eval(out.decode().strip())
    if "error" in fw:
        return [f"import edgeloop_fw failed on the board: {fw['error']}"]
    ms = f" in {fw['import_ms']} ms" if fw.get("import_ms") is not None else ""
    from edgeloop import __version__

    same = "same as" if fw.get("version") == __version__ else "NOT the same as"
    return [f"edgeloop_fw {fw.get('version') or '(no __version__)'} ({same} host edgeloop {__version__}) "
            f"imported from {fw.get('file')}{ms}",
            f"/lib/edgeloop_fw holds {len(fw['files'])} entries: {', '.join(fw['files'])}"]


def step_load_replay(ctx: DemoContext) -> list[str]:
    from edgeloop.deploy.board_config import board_config, config_file
    from edgeloop.deploy.plan import deploy_files

    rs = ctx.replay
    # The config `edgeloop deploy --model` writes, with the replay sensor in place of the profile's.
    config = board_config(boards.load(ctx.board), rs.info, f"/models/{rs.model_file.name}",
                          sensor={"kind": "replay", "file": REPLAY}, device_id="edgeloop-demo", kws=rs.kws,
                          capture=ctx.capture)
    blob = rs.replay.to_bytes()
    r = deploy_files(ctx.device, [config_file(config), (blob, REPLAY)], group="demo", board=ctx.board)
    what = "sent" if r.sent else "already on the board"
    return [f"{REPLAY} ({len(blob):,} B: the recordings back to back, int16 {rs.replay.units}) and {CONFIG} "
            f"(replay sensor, window {rs.window}/hop {rs.hop}, model /models/{rs.model_file.name}) {what}",
            f"the firmware's replay sensor plays them at the recorded rate, as the "
            f"{'microphone' if rs.kind == 'keyword' else 'IMU'} would deliver them"] + \
        ([] if ctx.virtual is not None else
         [f"note: this board's {CONFIG} now names the replay sensor; `edgeloop deploy --model DIR` configures its own sensor again"])


def release_for_stream(ctx: DemoContext) -> None:
    """Close the port: the stream link opens it itself (one user at a time), soft-resets the
    board (the app gets the heap deploy's receiver held) and imports the app one module per
    execution (`edgeloop.stream.link.preload`)."""
    ctx.device.close()
    ctx.device = None


def step_stream(ctx: DemoContext) -> list[str]:
    from edgeloop_fw import protocol as P

    from edgeloop.log.store import Store
    from edgeloop.stream.link import BoardLink
    from edgeloop.stream.session import StreamSession

    rs = ctx.replay
    release_for_stream(ctx)
    got: dict[int, dict] = {}
    statuses: list[dict] = []
    last = rs.expected()[-1]
    detections: list[dict] = []  # MSG_DETECTION fields, keyword mode
    seen = [0]
    best = [0, time.monotonic()]  # most windows one run of the replay has given, and when that grew

    def on_frame(msg_type, seq, t_ms, f):
        if msg_type == P.MSG_HELLO:  # (re)started: the replay and the window count start over
            got.clear()
            statuses.clear()
            detections.clear()
            seen[0] = 0
        elif msg_type == P.MSG_INFERENCE:
            k = f["window_index"]
            seen[0] = max(seen[0], k)
            if 1 <= k <= last:
                got[k] = f
                if len(got) > best[0]:
                    best[:] = [len(got), time.monotonic()]
        elif msg_type == P.MSG_STATUS:
            statuses.append(f)
        elif msg_type == P.MSG_DETECTION and (f["window_index"] is None or f["window_index"] <= last):
            detections.append(f)

    # Normally the last window ends the stream. Otherwise it ends when no run of the replay has got
    # further for STALL seconds: a deadline from the board's usual speed would cut a board on a busy
    # machine short, and a board that keeps restarting the replay never gets further.
    def stalled():
        return time.monotonic() - best[1] > STALL

    port = ctx.port
    # Gesture windows travel with their inference, so the log is a retraining set (`edgeloop export`).
    flags = P.STREAM_INFERENCE | P.STREAM_STATUS | \
        (0 if rs.kind == "keyword" else P.STREAM_SAMPLES | P.STREAM_WINDOW)
    store = Store(ctx.db)
    try:
        session = StreamSession(lambda: BoardLink(port, flags=flags, mode=P.MODE_INFER, timeout=30), store,
                                port=port, on_frame=on_frame)
        if ctx.on_stream:
            ctx.on_stream(session)
        tick = (lambda _stats: ctx.on_tick(session)) if ctx.on_tick else None
        t0 = time.monotonic()
        # Keyword: wait for the inference after the last one, so the last window's detection (sent
        # right after its inference frame, maybe in the next read) is in: frames arrive in order.
        stop_at = last + 1 if rs.kind == "keyword" else last
        session.run(None, should_stop=lambda: seen[0] >= stop_at or stalled(), on_tick=tick)
        elapsed = time.monotonic() - t0
        session_id = store.session_id
    finally:
        store.close()
    from edgeloop.demo.report import Summary

    c = session.reader.counts
    ctx.summary = Summary(rs, dict(got), list(statuses), frames=c.frames, dropped=c.dropped, corrupt=c.corrupt,
                          samples=session.stats.samples, disconnects=session.stats.disconnects,
                          db=Path(ctx.db).resolve(), session_id=session_id, stream_seconds=elapsed,
                          detections=list(detections))
    return [f"{len(got)} of {len(rs.expected())} windows inferred on the board in {elapsed:.1f} s, "
            f"{session.stats.samples:,} samples streamed; logged to {Path(ctx.db).resolve()} (session {session_id})"]


def step_check(ctx: DemoContext) -> list[str]:
    from edgeloop.demo.report import host_predictions, output_quant

    s = ctx.summary
    s.host_out, s.runner = host_predictions(ctx.replay, sorted(s.inferences))
    s.out_quant = output_quant(ctx.replay)
    same, n = s.agreement()
    return [f"{s.runner}: the board gave the same top class and scores on {same} of {n} windows"]


def step_summary(ctx: DemoContext) -> list[str]:
    return ctx.summary.lines()


STEPS: list[Step] = [
    Step("Find the model and its held-out recordings", step_recordings),
    Step("Start a virtual {board} board", step_start_board, "Connect to the board"),
    Step("Read what the board reports", step_board_facts),
    Step("Deploy the firmware and the model", step_deploy),
    Step("Ask the firmware who it is", step_ask_firmware),
    Step("Load the {what} into the simulated {sensor}", step_load_replay),
    Step("Stream: live monitor, every inference logged to SQLite", step_stream),
    Step("Check every window against the model on the host", step_check),
    Step("Summary", step_summary),
]


def run_demo(ctx: DemoContext, *, on_step: Callable[[int, int, str], None] | None = None,
             on_lines: Callable[[list[str]], None] | None = None) -> DemoContext:
    """Run every step in order; the board is released when the last one ends or one fails.

    StreamError after the summary when the stream came back partial (see Summary.shortfall)."""
    with ctx.stack:
        for i, step in enumerate(STEPS, 1):
            if on_step:
                on_step(i, len(STEPS), step.describe(ctx))
            lines = step.run(ctx)
            if on_lines:
                on_lines(lines)
    missed = ctx.summary.shortfall() if ctx.summary is not None else ""
    if missed:
        from edgeloop.errors import StreamError

        where = "the virtual board" if ctx.virtual is not None else f"the board on {ctx.port}"
        raise StreamError(f"the stream from {where} came back partial ({missed}), so the figures above cover "
                          "only what arrived; run the demo again (a machine this busy may starve a virtual "
                          "board; `edgeloop monitor` shows a board's stream live)")
    return ctx
