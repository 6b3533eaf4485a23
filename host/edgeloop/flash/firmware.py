"""Firmware images: a local file, or an official release resolved to its download URL and
cached under the user's cache folder with its SHA-256.

MicroPython's file names carry the build date (RPI_PICO-20241129-v1.24.1.uf2), so a
version maps to a URL through the table of releases below, or, for a release newer
than this table, through the board's download page. CircuitPython's URLs follow from
board id and version alone. A download goes to a temporary file in the cache folder
and is renamed only once complete and hashed: an interrupted or tampered download never
looks like a cached firmware.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..atomic import temp_beside
from ..errors import FlashError

MICROPYTHON_PAGE = "https://micropython.org/download/{board}/"
MICROPYTHON_FILE = "https://micropython.org/resources/firmware/{name}"
CIRCUITPYTHON_FILE = ("https://downloads.circuitpython.org/bin/{board}/en_US/"
                      "adafruit-circuitpython-{board}-en_US-{version}{suffix}")

# Release -> build date in the official file names (checked against published download links).
MICROPYTHON_RELEASES = {
    "1.23.0": "20240602", "1.24.0": "20241025", "1.24.1": "20241129", "1.25.0": "20250415",
    "1.26.0": "20250809", "1.26.1": "20250911", "1.27.0": "20251209",
}

# Known SHA-256 of official files, filled in as releases are verified; a download of a
# listed file that hashes differently is refused. Users can also pass expected_sha256.
KNOWN_SHA256: dict[str, str] = {}


@dataclass(frozen=True)
class Firmware:
    url: str
    filename: str
    kind: str  # "micropython" or "circuitpython"
    version: str
    page: str = ""  # where a person finds it by hand


def cache_dir() -> Path:
    import platformdirs
    return Path(platformdirs.user_cache_dir("edgeloop")) / "firmware"


def _version(v: str) -> str:
    v = v.strip().lstrip("vV")
    if not re.fullmatch(r"\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?", v):
        raise FlashError(f"version {v!r} is not a release number like 1.24.1 (MicroPython) or 9.2.1 (CircuitPython)")
    return v


def resolve(profile, kind: str, version: str, fetch_page=None) -> Firmware:
    """The official download for this board, firmware kind and release."""
    version = _version(version)
    suffix = profile.firmware_suffix
    if kind == "circuitpython":
        board = profile.circuitpython_firmware
        if not board:
            raise FlashError(f"there is no CircuitPython build for {profile.name}; "
                             f"use --micropython VERSION instead")
        if suffix == ".dfu":
            raise FlashError(f"edgeloop flashes {profile.name} with DFU and CircuitPython ships no .dfu for it")
        url = CIRCUITPYTHON_FILE.format(board=board, version=version, suffix=suffix)
        return Firmware(url, url.rsplit("/", 1)[1], kind, version,
                        f"https://circuitpython.org/board/{board}/")
    if kind != "micropython":
        raise ValueError(kind)
    name = profile.micropython_firmware
    board = name.split("-", 1)[0]  # ESP32_GENERIC_S3-SPIRAM_OCT: page of ESP32_GENERIC_S3
    page = MICROPYTHON_PAGE.format(board=board)
    date = MICROPYTHON_RELEASES.get(version)
    if date:
        filename = f"{name}-{date}-v{version}{suffix}"
        return Firmware(MICROPYTHON_FILE.format(name=filename), filename, kind, version, page)
    # A release newer than the table: its link on the board's download page gives the date.
    html = (fetch_page or _fetch_text)(page)
    pattern = re.escape(name) + r"-(\d{8})(-\d+)?-v" + re.escape(version) + re.escape(suffix)
    m = re.search(r"/resources/firmware/(" + pattern + r")\"", html)
    if not m:
        raise FlashError(f"MicroPython {version} for {name} is not listed on {page}; "
                         f"check the version there (known here: {', '.join(MICROPYTHON_RELEASES)})")
    return Firmware(MICROPYTHON_FILE.format(name=m.group(1)), m.group(1), kind, version, page)


def _fetch_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        raise FlashError(f"cannot read {url} ({getattr(e, 'reason', e)}); open it in a browser, download the "
                         "firmware file and pass it with --firmware FILE") from None


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def cached_path(fw: Firmware, directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / fw.filename


def fetch(fw: Firmware, *, directory: Path | None = None, expected_sha256: str | None = None,
          progress=None, opener=None) -> Path:
    """Return the cached file, downloading it first if needed.

    `progress(done, total)` is called while downloading. The file's SHA-256 is kept next
    to it (NAME.sha256) and re-checked on every use, so a corrupted cache is noticed.
    """
    target = cached_path(fw, directory)
    side = target.with_name(target.name + ".sha256")
    want = (expected_sha256 or KNOWN_SHA256.get(fw.filename) or "").lower() or None
    if target.is_file() and side.is_file():
        have = sha256_file(target)
        recorded = side.read_text().split()[0] if side.read_text().strip() else ""
        if have == recorded and (want is None or have == want):
            return target
        target.unlink()  # corrupt or not what was asked for: fetch it again
        side.unlink()
    fd, tmp = temp_beside(target, ".part")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = (opener or urllib.request.urlopen)(fw.url, timeout=30)
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", None) or getattr(e, "code", None) or e
                raise FlashError(f"cannot download {fw.url} ({reason}); fetch that URL by hand and save it as "
                                 f"{target}, or pass the file with --firmware FILE") from None
            with response:
                total = int(response.headers.get("Content-Length") or 0)
                done = 0
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            if total and done != total:
                raise FlashError(f"download of {fw.url} stopped at {done} of {total} bytes; run the command again")
        digest = h.hexdigest()
        if want and digest != want:
            raise FlashError(f"{fw.url} has SHA-256 {digest}, expected {want}: the download is corrupt or not "
                             "the official file; nothing was flashed. Try again, or download it by hand and check it")
        os.replace(tmp, target)
        side.write_text(f"{digest}  {fw.filename}\n")
        return target
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
