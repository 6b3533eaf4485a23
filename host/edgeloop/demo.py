"""`edgeloop demo` as a library: a list of named steps over one shared context.

Each step does one thing a user would do by hand (start a board, look at it,
deploy, ask the firmware) and returns the lines worth showing, so the CLI
can announce a step before it runs and print its lines after. Later issues
add steps (convert the gesture model, stream inferences) by appending to
`STEPS`, without touching the ones here.
"""

from __future__ import annotations

import ast
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable

from . import boards
from .transfer import board_script


@dataclass
class DemoContext:
    board: str = "rp2040"
    port: str | None = None  # an existing board instead of a virtual one
    progress: Callable[[int, int, str], None] | None = None
    stack: ExitStack = field(default_factory=ExitStack)
    device: object = None
    virtual: object = None
    info: dict = field(default_factory=dict)
    deploy: object = None
    firmware: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    title: str  # may use {board}; `connected` replaces it when the user gave a port
    run: Callable[[DemoContext], list[str]]
    connected: str = ""

    def describe(self, ctx: DemoContext) -> str:
        return (self.connected if ctx.port and self.connected else self.title).format(board=ctx.board)


def step_start_board(ctx: DemoContext) -> list[str]:
    from .device import Device

    if ctx.port is None:
        from .sim import VirtualBoard

        ctx.virtual = ctx.stack.enter_context(VirtualBoard(board=ctx.board))
        ctx.port = ctx.virtual.port
        where = f"virtual {ctx.board} board (real MicroPython, WebAssembly build) on {ctx.port}"
    else:
        where = f"board on {ctx.port}"
    ctx.device = ctx.stack.enter_context(Device(ctx.port))
    return [f"{where}, raw REPL open"]


def step_board_facts(ctx: DemoContext) -> list[str]:
    from .deploy import open_session
    from .discover import board_info

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
    from .firmware_deploy import deploy_firmware

    r = ctx.deploy = deploy_firmware(ctx.device, board=ctx.board, progress=ctx.progress)
    lines = [f"{len(r.sent)} file(s) sent, {r.bytes_sent:,} bytes in {r.seconds:.2f} s "
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
    from . import __version__

    same = "same as" if fw.get("version") == __version__ else "NOT the same as"
    return [f"edgeloop_fw {fw.get('version') or '(no __version__)'} ({same} host edgeloop {__version__}) "
            f"imported from {fw.get('file')}{ms}",
            f"/lib/edgeloop_fw holds {len(fw['files'])} entries: {', '.join(fw['files'])}"]


STEPS: list[Step] = [
    Step("Start a virtual {board} board", step_start_board, "Connect to the board"),
    Step("Read what the board reports", step_board_facts),
    Step("Deploy the firmware", step_deploy),
    Step("Ask the firmware who it is", step_ask_firmware),
]


def run_demo(ctx: DemoContext, *, on_step: Callable[[int, int, str], None] | None = None,
             on_lines: Callable[[list[str]], None] | None = None) -> DemoContext:
    """Run every step in order; the board is released when the last one ends or one fails."""
    with ctx.stack:
        for i, step in enumerate(STEPS, 1):
            if on_step:
                on_step(i, len(STEPS), step.describe(ctx))
            lines = step.run(ctx)
            if on_lines:
                on_lines(lines)
    return ctx
