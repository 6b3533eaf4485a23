"""Deploying files to a board: only what changed, verified, and atomic.

The on-board layout and the crash-safety argument are in docs/deploy.md. In
short: new files go to /.edgeloop/stage/ and are checked by hash on the
board; then a journal naming every move appears by one atomic rename; then
the moves run, the manifest is rewritten and the journal removed. Before the
journal exists the old app is untouched; once it exists, the deploy, the next
deploy, or the hook at the top of boot.py rolls it forward (every step is
idempotent), so an interruption never leaves half an app.

`deploy_files` is the general entry point (model files use it too);
`deploy_firmware` (firmware.py) builds the file list for firmware/.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, Union

from edgeloop import __version__
from edgeloop.link.device import BoardException, Device
from edgeloop.errors import DeployError, DeviceError, NotEnoughSpace, NotMicroPython
from edgeloop.link.transfer import BoardSession, StagedFile, board_script, sha256_hex

EL_DIR = "/.edgeloop"
STAGE = EL_DIR + "/stage"
MANIFEST = EL_DIR + "/manifest.json"
JOURNAL = EL_DIR + "/journal.json"
APPLIER = EL_DIR + "/apply.py"
APPLY_BATCH = 16  # files moved per exec: the WebAssembly board collects garbage only between execs
MANIFEST_FORMAT = 2  # 2: one member per line, files first (compared as text on the board)
SUPPORTED_FIRMWARE = ("micropython", "circuitpython")

# progress(bytes_done, bytes_total, current_remote_path)
Progress = Callable[[int, int, str], None]
Source = Union[str, Path, bytes]


@dataclass
class DeployFile:
    """One file bound for the board: its bytes, where it goes, and where it came from."""

    remote: str
    data: bytes
    source: str = ""
    group: str = "files"  # manifest tag; a pruning deploy removes its group's leftovers

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)


@dataclass
class DeployResult:
    port: str
    board: str | None
    sent: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, why)
    notes: list[str] = field(default_factory=list)
    bytes_sent: int = 0  # file bytes that went to the board
    wire_bytes: int = 0  # characters of exec source that carried them
    seconds: float = 0.0
    compressed: bool = False
    hashed_on_board: int = 0  # files the board had to hash (manifest missing or stale)
    recovered: int = 0  # files a previous interrupted deploy still had to move
    info: dict = field(default_factory=dict)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_sent / self.seconds if self.seconds > 0 else 0.0


def _as_deploy_file(item, group: str) -> DeployFile:
    if isinstance(item, DeployFile):
        return item
    src, remote = item
    if isinstance(src, (bytes, bytearray)):
        return DeployFile(remote, bytes(src), "<bytes>", group)
    path = Path(src)
    try:
        return DeployFile(remote, path.read_bytes(), str(path), group)
    except OSError as e:
        raise DeployError(f"cannot read {path}: {e.strerror or e}") from None


def _check_remote(path: str) -> None:
    # Manifest lines are compared as text on the board, so a path must need no JSON escaping.
    if any(not (" " <= c <= "~") or c in '"\\' for c in path):
        raise DeployError(f"remote path {path!r} may only hold printable ASCII without quotes or "
                          "backslashes; rename the file")
    if not path.startswith("/") or path.startswith(EL_DIR + "/") or "//" in path or path.endswith("/") \
            or any(p in (".", "..") for p in path.split("/")):
        raise DeployError(f"remote path {path!r} must be absolute, name a file, and stay out of {EL_DIR}/")


def open_session(device: Device, root: str = "") -> BoardSession:
    """Install the receiver, refuse what is not MicroPython/CircuitPython, finish any pending deploy.

    `root` prefixes every board path (tests run the board scripts under CPython in a folder).
    """
    session = BoardSession(device, root)  # also rolls a committed deploy forward, drops a stale stage
    name = session.info.get("name")
    if name not in SUPPORTED_FIRMWARE:
        raise NotMicroPython(f"{device.port} runs {name!r}, not MicroPython or CircuitPython; "
                             "flash MicroPython with `edgeloop flash --board NAME`")
    return session


def _fresh_session_after(e: BoardException, device: Device, session: BoardSession) -> BoardSession:
    """After a MemoryError on the board: a soft reset frees what the REPL held, and a new
    session (receiver sent again, a committed journal rolled forward) takes over. Any other
    error, or a session under a test root (CPython, no reset), is raised again."""
    if "MemoryError" not in e.traceback or session.root:
        raise e
    device.soft_reset()
    return open_session(device)


def read_manifest(session: BoardSession) -> dict | None:
    """The board's manifest, or None when missing or unreadable (for tools and tests; deploy does not need it)."""
    raw = session.read(MANIFEST)
    return parse_manifest(raw) if raw is not None else None


def _check_space(session: BoardSession, changed: list[DeployFile], extra: int) -> None:
    info = session.space()
    free, block = info.get("free"), info.get("block") or 512
    if free is None:
        return
    blocks = sum(-(-max(len(f.data), 1) // block) for f in changed) + 4  # + journal, manifest, dirs
    need = blocks * block + extra
    if need > free:
        total = info.get("total") or 0
        raise NotEnoughSpace(
            f"not enough space on the board: the deploy needs {need:,} bytes for {len(changed)} file(s) "
            f"but the filesystem has {free:,} free of {total:,}; remove files from the board "
            "or deploy fewer/smaller models")


def deploy_files(device: Device, files: Sequence, *, group: str = "files", prune: Sequence[str] = (),
                 board: str | None = None, progress: Progress | None = None, verify: bool = False,
                 compress: bool | None = None, session: BoardSession | None = None,
                 result: DeployResult | None = None) -> DeployResult:
    """Put `files` ([(local path or bytes, remote path)] or DeployFile) on the board atomically.

    Only files whose SHA-256 differs from the board's are sent. `group` tags
    the manifest entries of (path, remote) items; files an earlier deploy put
    there under a group named in `prune` and that are not in `files` are
    removed. The board keeps its previous files if anything fails before the
    commit.
    """
    start = time.perf_counter()
    wanted = [_as_deploy_file(item, group) for item in files]
    seen = set()
    for f in wanted:
        _check_remote(f.remote)
        if f.remote in seen:
            raise DeployError(f"{f.remote} is listed twice in one deploy")
        seen.add(f.remote)
    session = session or open_session(device)
    if compress is not None:
        session.compress = compress and session.info.get("inflate") is not None
    result = result or DeployResult(port=device.port, board=board)
    result.info = session.info
    result.compressed = session.compress
    result.recovered = getattr(session, "recovered", 0)
    if result.recovered:
        result.notes.append(f"finished an interrupted deploy first ({result.recovered} file(s) moved into place)")

    header = manifest_header_lines(board, session.info)
    entries = {f.remote: manifest_line(f) for f in wanted}
    applier = board_script("apply").encode()
    # One string literal: the board compiles it far faster than a nested list of the same data.
    wanted_text = "\n".join(entries[f.remote] for f in wanted)
    plan_call = (f"_el_plan({session.root!r},{session.path(MANIFEST)!r},{wanted_text!r},{chr(10).join(header)!r},"
                 f"{tuple(prune)!r},{bool(verify)!r},{session.path(APPLIER)!r},{sha256_hex(applier)!r})")
    try:
        planned = session.call(plan_call, timeout=300)
    except BoardException as e:
        # What the REPL still holds (modules an earlier command imported) left the plan no heap;
        # nothing is staged yet.
        compress_now = session.compress
        session = _fresh_session_after(e, device, session)
        session.compress = compress_now
        planned = session.call(plan_call, timeout=300)
    changed_idx, hashed, removals, manifest_ok, applier_ok, folders = planned
    if folders:
        raise DeployError(f"{folders[0]} is a folder on the board; remove it "
                          "(mpremote rm -r) and deploy again")
    changed = [wanted[i] for i in changed_idx]
    changed_set = set(changed_idx)
    result.unchanged = [f.remote for i, f in enumerate(wanted) if i not in changed_set]
    result.hashed_on_board = hashed
    applier_stale = not applier_ok
    if not changed and not removals and manifest_ok and not applier_stale:
        result.seconds = time.perf_counter() - start
        return result

    _check_space(session, changed, len(applier) + 300 * len(wanted))
    # Boot files move first: the new boot.py carries the recovery hook.
    changed.sort(key=lambda f: (f.remote not in ("/boot.py", "/main.py", "/code.py"), f.remote))
    staged = [StagedFile(f"{STAGE}/{i}", f.data, f.sha256, f.remote) for i, f in enumerate(changed)]
    total = sum(len(f.data) for f in changed)
    done = 0

    def on_chunk(n, label):
        nonlocal done
        done += n
        if progress:
            progress(done, total, label)

    committed = False
    try:
        session.run(f"_el_mkdirs({session.path(STAGE)!r})")
        if applier_stale:
            # Outside the journal: no journal exists now, so nothing depends on the old copy.
            session.write_files([StagedFile(f"{STAGE}/apply", applier, sha256_hex(applier), APPLIER)])
            session.run(f"_el_ap_move({session.path(STAGE + '/apply')!r},{session.path(APPLIER)!r})")
        if progress:
            progress(0, total, "")
        session.write_files(staged, on_chunk)
        _board_checks_models(session, staged, result)
        journal = json.dumps({"moves": [[s.temp, s.label] for s in staged], "remove": removals,
                              "set": entries, "header": header}).encode()
        session.write_files([StagedFile(f"{STAGE}/journal", journal, sha256_hex(journal), JOURNAL)])
        session.run(f"_el_ap_move({session.path(STAGE + '/journal')!r},{session.path(JOURNAL)!r})")
        committed = True
        try:
            while session.call(f"print(el_apply({session.root!r},{APPLY_BATCH}))", timeout=120) < 0:
                pass
        except BoardException as e:
            # An app the deploy interrupted left the roll-forward no heap; opening the
            # fresh session finishes the journal.
            _fresh_session_after(e, device, session)
    except (DeviceError, BoardException) as e:
        if not committed:
            _discard_stage(session)
            raise DeployError(f"{e}; the board keeps its previous app") from None
        raise DeployError(f"{e}; the deploy was committed and finishes at the board's next boot "
                          "or the next `edgeloop deploy`") from None
    except BaseException:
        if not committed:
            _discard_stage(session)
        raise
    result.sent = [f.remote for f in changed]
    result.removed = removals
    result.bytes_sent = total
    result.wire_bytes = session.wire_bytes
    result.seconds = time.perf_counter() - start
    return result


# Where the board's model check lives (edgeloop.deploy.firmware's LIB/PACKAGE + the runtime).
BOARD_RUNTIME = "/lib/edgeloop_fw/runtime/"


def _board_checks_models(session: BoardSession, staged: list[StagedFile], result: DeployResult) -> None:
    """The board reads each staged model file with its own runtime before anything is replaced.

    The host checked the file with the same code already; this run is the board's word, against
    its heap and its installed runtime. A deploy that also brings a new runtime is checked on the
    host only: the board's old validator may not read the format the new runtime reads."""
    models = [s for s in staged if s.label.endswith(".elm")]
    if not models:
        return
    if any(s.label.startswith(BOARD_RUNTIME) for s in staged):
        result.notes.append("model checked on the host: the board's runtime arrives with this deploy")
        return
    verdicts = []
    try:
        session.run(board_script("check_models"))
        try:
            for s in models:
                verdicts.append(session.call(f"print(repr(_el_check_model({session.path(s.temp)!r})))",
                                             timeout=300))
                if verdicts[-1] is False:
                    break
        finally:
            session.run("_el_check_done(_el_check_before)\ndel _el_check_model, _el_check_done, _el_check_before")
    except BoardException as e:
        if "MemoryError" not in e.traceback:
            raise
        verdicts += [None] * (len(models) - len(verdicts))  # no heap for the check itself: no verdict
    if verdicts and verdicts[0] is False:
        result.notes.append("model checked on the host only: the board has no edgeloop_fw.runtime.validate "
                            "(deploy the firmware with `edgeloop deploy`)")
        return
    for s, why in zip(models, verdicts):
        if why:
            raise DeployError(f"the board refused {s.label}: {why}; nothing was replaced")
        if why is None:
            result.notes.append(f"{s.label}: the board had no free heap to check it; checked on the host")


def _discard_stage(session: BoardSession) -> None:
    try:
        session.run(f"_el_rmtree({session.path(STAGE)!r})")
    except Exception:
        pass  # the board is gone; the next deploy clears the stage


# The manifest is one JSON object written one member per line: a line per file (key: the
# path, so it starts with '"/'; always followed by a comma), then the header fields, the
# last without a comma. The host renders every line and the board stores them verbatim,
# so the board decides "unchanged" by comparing lines (receiver.py's _el_plan).

def manifest_line(f: DeployFile) -> str:
    """The manifest's line for `f`, exactly as the board stores it."""
    entry = {"size": len(f.data), "sha256": f.sha256, "group": f.group, "source": f.source}
    return f"{json.dumps(f.remote)}: {json.dumps(entry)},"


def manifest_header_lines(board: str | None, info: dict) -> list[str]:
    version = ".".join(str(v) for v in info.get("version", ()))
    header = {"format": MANIFEST_FORMAT, "edgeloop": __version__, "board": board,
              "firmware": f"{info.get('name')} {version}", "mpy": info.get("mpy")}
    return ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in header.items()).split("\n")


def parse_manifest(raw: bytes | str) -> dict | None:
    """{"files": {path: entry}, header fields...} from the board's manifest text, or None."""
    try:
        members = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(members, dict):
        return None
    out = {k: v for k, v in members.items() if not k.startswith("/")}
    out["files"] = {k: v for k, v in members.items() if k.startswith("/")}
    return out
