"""The board tests' runner: a virtual board with the firmware deployed, driven as hardware is.

Every board test and board benchmark goes through here, so each of them
crosses what a real board puts in the way: the RP2040 profile's heap cap, the
firmware as `edgeloop deploy` lays it out (.mpy for the board's ABI, the
boot hook, only what changed), data files through the same deploy library,
and code over the pty through edgeloop.link.device's raw REPL.

This board collects garbage only between raw-REPL executions, so a script
is a list of parts, each run in its own execution; a part that allocates per
iteration must do a bounded amount of work.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

TEST_GROUP = "test"  # manifest group of the files a test puts beside the firmware


class FirmwareBoard:
    """A started VirtualBoard with firmware/ deployed once; tests add their files and run parts.

    `put` replaces the previous call's files (the test group is pruned), so
    one board serves a whole test module without its filesystem filling up.
    """

    def __init__(self, board: str = "rp2040", flash_dir: Path | None = None, cache_dir: Path | None = None):
        from edgeloop.link.device import Device
        from edgeloop.deploy.firmware import deploy_firmware
        from edgeloop.sim import VirtualBoard

        self._own_cache = None
        if cache_dir is None:
            self._own_cache = tempfile.TemporaryDirectory(prefix="edgeloop-mpy-")
            cache_dir = Path(self._own_cache.name)
        self.vb = VirtualBoard(board=board, flash_dir=flash_dir, register=False)
        try:
            with Device(self.vb.port) as dev:
                self.firmware = deploy_firmware(dev, board=board, cache_dir=cache_dir)
        except BaseException:
            self.close()
            raise

    @property
    def port(self) -> str:
        return self.vb.port

    def put(self, files: Mapping[str, bytes], models: Iterable[str | Path] = ()) -> list[str]:
        """Deploy `files` ({board path: bytes}) and model files (to /models/) in one transaction.

        Returns the board paths that were sent (unchanged ones are not).
        """
        from edgeloop.deploy.plan import DeployFile, deploy_files
        from edgeloop.link.device import Device
        from edgeloop.deploy.firmware import model_files

        wanted = [DeployFile(path, data, path, TEST_GROUP) for path, data in files.items()]
        wanted += [DeployFile(f.remote, f.data, f.source, TEST_GROUP) for f in model_files(list(models))]
        with Device(self.vb.port) as dev:
            return deploy_files(dev, wanted, group=TEST_GROUP, prune=(TEST_GROUP,)).sent

    @contextlib.contextmanager
    def session(self):
        """A Device on a soft-reset board: fresh interpreter and heap, files kept (as after Ctrl-D)."""
        from edgeloop.link.device import Device

        with Device(self.vb.port, soft_reset=True) as dev:
            yield dev

    def run(self, parts: Iterable[str], *, timeout: float = 300) -> str:
        """Run each part in its own execution on a freshly soft-reset board; their output, joined."""
        with self.session() as dev:
            return execs(dev, parts, timeout=timeout)

    def close(self) -> None:
        vb, self.vb = getattr(self, "vb", None), None
        if vb is not None:
            vb.stop()
        if self._own_cache is not None:
            self._own_cache.cleanup()
            self._own_cache = None

    def __enter__(self) -> "FirmwareBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def settled_heap(dev) -> int:
    """gc.mem_alloc() once two reads, each after a collection between executions, agree
    (the WebAssembly board collects only between executions; `gc` must be imported)."""
    last = None
    for _ in range(20):
        dev.exec("gc.collect()")
        now = int(dev.exec("print(gc.mem_alloc())").decode())
        if now == last:
            return now
        last = now
    raise RuntimeError(f"the board's heap did not settle (last {last} B)")


def runtime_imports() -> str:
    """Code importing the loader, the interpreter and every portable kernel (int8 and 16x8):
    the most of the runtime a board can hold (convert/fit.py budgets a model only its own
    kernel modules: tests/tools/runtime_heap.py)."""
    from edgeloop_fw.runtime.opcodes import KERNELS, KERNELS_16X8

    kernels = sorted(set(KERNELS.values()) | set(KERNELS_16X8.values()))
    return ("from edgeloop_fw.runtime.loader import Model\n"
            "from edgeloop_fw.runtime.interpreter import Interpreter\n"
            + "".join(f"import edgeloop_fw.runtime.kernels.{k}\n" for k in kernels))


def execs(dev, parts: Iterable[str], *, timeout: float = 300) -> str:
    """Each part in its own raw-REPL execution (the board collects garbage between them)."""
    return "".join(dev.exec(code, timeout=timeout).decode("utf-8", "replace") for code in parts)


def unavailable() -> str | None:
    """None if a virtual board can start here, else why not (and what fixes it)."""
    try:
        from edgeloop.sim import node_status
    except ImportError as e:  # a broken checkout
        return f"edgeloop.sim cannot be imported: {e}"
    ok, why = node_status()
    return None if ok else f"virtual board unavailable: {why}"
