"""Moving bytes onto a board: chunk encoding and the board-side session.

mpremote's `fs cp` sends 256 bytes per raw-REPL exec as a repr() literal, so
each byte costs a round trip share and up to 4 characters. Here each exec
carries as many chunks as the board's heap comfortably takes, each chunk a
base64 zlib stream when that is smaller (the board inflates it with
`deflate.DeflateIO`, or `zlib` on older firmware), and several small files
share one exec. The board-side half is board_scripts/receiver.py, a real
file sent once per session.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

from edgeloop.link.device import BoardException, Device
from edgeloop.errors import DeployError, NotMicroPython

# Window bits for the zlib streams: the board allocates 2**wbits bytes to
# inflate, and 1 KiB costs little ratio on chunks of a few KiB.
ZLIB_WBITS = 10
MODE_RAW = 0
MODE_ZLIB = 1


@lru_cache(maxsize=None)
def board_script(name: str) -> str:
    """The text of board_scripts/<name>.py, as sent to the board."""
    return (Path(__file__).resolve().parent / "board_scripts" / f"{name}.py").read_text()


_RECEIVER_CHECK = "try:\n print(_el_rx)\nexcept NameError:\n print(None)"


def receiver_code() -> str:
    """The board side of a deploy: receiver.py, then apply.py, then the id that marks them installed."""
    return f"{board_script('receiver')}\n{board_script('apply')}\n_el_rx = {receiver_id()!r}\n"


def receiver_id() -> str:
    return sha256_hex((board_script("receiver") + board_script("apply")).encode())[:16]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_chunks(data: bytes, chunk_size: int, compress: bool,
                  hex_payload: bool = False) -> Iterator[tuple[int, bytes, int]]:
    """Split `data` into (mode, base64 (or hex) payload, raw length) chunks.

    Each compressed chunk is a complete zlib stream, so the board can inflate
    it without state from an earlier exec; a chunk that does not shrink goes raw.
    """
    if not data:
        yield MODE_RAW, b"", 0
        return
    for start in range(0, len(data), chunk_size):
        raw = data[start:start + chunk_size]
        mode, body = MODE_RAW, raw
        if compress:
            z = zlib.compressobj(9, zlib.DEFLATED, ZLIB_WBITS)
            packed = z.compress(raw) + z.flush()
            if len(packed) < len(raw):
                mode, body = MODE_ZLIB, packed
        yield mode, (body.hex().encode() if hex_payload else base64.b64encode(body)), len(raw)


def decode_chunks(chunks: Iterable[tuple[int, bytes, int]], hex_payload: bool = False) -> bytes:
    """The host-side inverse of encode_chunks (for tests and self-checks)."""
    out = bytearray()
    for mode, payload, _ in chunks:
        body = bytes.fromhex(payload.decode()) if hex_payload else base64.b64decode(payload, validate=True)
        out += zlib.decompress(body) if mode == MODE_ZLIB else body
    return bytes(out)


def chunk_size_for(heap_free: int | None) -> int:
    """Raw bytes per chunk for a board with `heap_free` bytes of Python heap.

    The raw REPL holds an exec's source, its compiled literals and the
    decoded chunk at once (about 4x the chunk), so a chunk stays near 1/24
    of the free heap: 8 KiB on an RP2040 (190 KB free), 2 KiB on a 48 KB board.
    """
    if not heap_free:
        return 4096
    size = 1024
    while size * 2 * 24 <= heap_free and size < 16384:
        size *= 2
    return size


@dataclass
class StagedFile:
    """One file to put at `temp` on the board; `sha256` is what must land there."""

    temp: str
    data: bytes
    sha256: str
    label: str  # what error messages call it (the final remote path)


class BoardSession:
    """The receiver functions installed in one raw-REPL session, called by small execs."""

    def __init__(self, device: Device, root: str = ""):
        self.device = device
        self.root = root
        code = receiver_code()
        try:
            # The raw REPL keeps its globals until a reset, so a board that still has this
            # very receiver from the last deploy is not sent it again.
            if device.exec(_RECEIVER_CHECK).decode().strip() != receiver_id():
                device.exec(code)
            info, self.recovered = self.call(f"_el_session({root!r})")
        except BoardException as e:
            raise NotMicroPython(f"{device.port}: the board cannot run edgeloop's deploy helper ({e}); "
                                 "is it MicroPython 1.20+ or CircuitPython 8+?") from None
        self.info = info
        self.compress = self.info.get("inflate") is not None
        self.chunk_size = chunk_size_for(None)
        self._space_known = False
        # Measured on the WebAssembly MicroPython: a2b_base64 decodes ~105 KB/s, bytes.fromhex
        # ~720 KB/s, and its pty moves MB/s, so hex wins there; on a USB board the wire is the
        # limit and base64's 1.33x beats hex's 2x.
        self.hex_payload = self.info.get("platform") == "webassembly" and bool(self.info.get("fromhex"))
        self.wire_bytes = 0

    def space(self) -> dict:
        """Free heap and filesystem space, fetched once (it costs a GC), merged into `info`."""
        if not self._space_known:
            self.info.update(self.call(f"_el_space({self.root!r})"))
            self.chunk_size = chunk_size_for(self.info.get("heap"))
            self._space_known = True
        return self.info

    def call(self, code: str, *, timeout: float | None = None):
        """Run receiver code that prints one Python literal, and return it."""
        import ast

        out = self.device.exec(code, timeout=timeout)
        return ast.literal_eval(out.decode().strip())

    def path(self, remote: str) -> str:
        return self.root + remote

    def sizes(self, paths: list[str]) -> list[int]:
        return self.call(f"_el_sizes({[self.path(p) for p in paths]!r})") if paths else []

    def hashes(self, paths: list[str]) -> list[str | None]:
        return self.call(f"_el_hashes({[self.path(p) for p in paths]!r})", timeout=120) if paths else []

    def read(self, remote: str) -> bytes | None:
        return self.call(f"_el_read({self.path(remote)!r})")

    def run(self, code: str) -> bytes:
        return self.device.exec(code, timeout=120)

    def write_files(self, files: list[StagedFile],
                    progress: Callable[[int, str], None] | None = None) -> None:
        """Write each file to its temp path and check the hash the board reads back.

        `progress(raw_bytes_just_done, label)` is called after each exec.
        """
        self.space()  # the chunk size follows the free heap
        budget = self.chunk_size * (3 if self.hex_payload else 2)  # payload characters per exec
        stmts: list[str] = []
        pending: list[StagedFile] = []  # files whose _el_close() is in this exec
        done_bytes = 0
        size = 0
        label = ""

        def flush():
            nonlocal stmts, pending, done_bytes, size
            if not stmts:
                return
            code = "\n".join(stmts)
            self.wire_bytes += len(code)
            try:
                out = self.device.exec(code, timeout=120)
            except BoardException as e:
                raise DeployError(f"writing {label} failed on the board ({e.traceback.strip().splitlines()[-1]}); "
                                  "the previous app is unchanged") from None
            got = out.decode().split()
            for f, h in zip(pending, got):
                if h != f.sha256:
                    raise DeployError(f"the board stored {f.label} with sha256 {h[:12]}… but {f.sha256[:12]}… was "
                                      "sent; its filesystem may be failing; the previous app is unchanged")
            if len(got) != len(pending):
                raise DeployError(f"the board confirmed {len(got)} of {len(pending)} files; "
                                  "the previous app is unchanged")
            if progress:
                progress(done_bytes, label)
            stmts, pending, done_bytes, size = [], [], 0, 0

        for f in files:
            label = f.label
            stmts.append(f"_el_open({self.path(f.temp)!r})")
            for mode, payload, n in encode_chunks(f.data, self.chunk_size, self.compress, self.hex_payload):
                if size and size + len(payload) > budget:
                    flush()
                quote = "'" if self.hex_payload else "b'"
                stmts.append(f"_el_w({quote}{payload.decode()}',{mode})")
                size += len(payload) + 16
                done_bytes += n
            stmts.append("_el_close()")
            pending.append(f)
            size += 40
        flush()
