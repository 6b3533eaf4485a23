"""Synthetic speech for keyword training: espeak-ng voices at 16 kHz int16.

Nobody here has a few thousand recordings of "yes", but espeak-ng speaks
English with 8 accents and about 100 voice variants (timbres: male, female,
old, robotic, whispering), at any speed and pitch. A "voice" is one accent
with one variant, e.g. `en-us+m3`; the training split holds whole variants
out, so the held-out accuracy is measured on timbres the model never heard.

espeak-ng writes 22.05 kHz WAV to stdout; it is resampled to the 16 kHz the
micro_speech front end expects with a polyphase filter (scipy, exact
integer ratio 160/441). espeak-ng is deterministic for a given text, voice,
speed and pitch, so clips are cached by those parameters and the espeak-ng
version.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EdgeloopError, ToolMissing

RATE = 16000
ESPEAK_RATE = 22050
INSTALL_HINT = "apt-get install espeak-ng"
WORD_RE = re.compile(r"^[a-z][a-z']*$")


class SpeechError(EdgeloopError):
    """A word or voice espeak-ng cannot use."""


@dataclass(frozen=True)
class Voice:
    accent: str  # espeak-ng language voice, e.g. "en-us"
    variant: str  # espeak-ng variant file name, e.g. "m3"

    @property
    def name(self) -> str:
        return f"{self.accent}+{self.variant}"

    @classmethod
    def parse(cls, name: str) -> "Voice":
        accent, _, variant = name.partition("+")
        return cls(accent, variant or "m1")


def espeak() -> str:
    """The espeak-ng executable, or one line saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ToolMissing(f"keyword training synthesizes speech with espeak-ng, which is not installed: {INSTALL_HINT}")
    return exe


def _run(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([espeak(), *args], capture_output=True, timeout=60)
    except OSError as e:
        raise ToolMissing(f"cannot run espeak-ng ({e.strerror or e}): {INSTALL_HINT}") from None


def version() -> str:
    out = _run(["--version"]).stdout.decode(errors="replace")
    m = re.search(r"text-to-speech:\s*(\S+)", out)
    return m.group(1) if m else out.strip()


def _voice_files(spec: str) -> list[str]:
    """The 'File' column of `espeak-ng --voices=SPEC` (e.g. gmw/en-US, !v/m3)."""
    lines = _run([f"--voices={spec}"]).stdout.decode(errors="replace").splitlines()[1:]
    files = []
    for line in lines:
        parts = line.split()
        # Columns: Pty, Language, Age/Gender, VoiceName (may hold spaces), File, ...
        # A name with a space ("Mr serious") leaves its file column ambiguous: skip it.
        for i, p in enumerate(parts[3:], 3):
            if "/" in p:
                if i == len(parts) - 1:
                    files.append(p)
                break
    return files


def accents() -> list[str]:
    """English accents of espeak-ng's own voices (MBROLA voices need extra packages, left out)."""
    names = []
    for line in _run(["--voices=en"]).stdout.decode(errors="replace").splitlines()[1:]:
        parts = line.split()
        if (len(parts) >= 5 and parts[1] != "variant" and not any(p.startswith(("mb/", "!v/")) for p in parts)
                and parts[1] not in names):
            names.append(parts[1])
    return names


def variants() -> list[str]:
    return [f.split("/", 1)[1] for f in _voice_files("variant") if f.startswith("!v/")]


def check_voice(name: str, known_accents: list[str], known_variants: list[str]) -> Voice:
    v = Voice.parse(name)
    if v.accent not in known_accents:
        raise SpeechError(f"unknown espeak-ng voice '{name}': the accent must be one of {', '.join(known_accents)} "
                          "(see `espeak-ng --voices=en`)")
    if v.variant not in known_variants:
        raise SpeechError(f"unknown espeak-ng voice variant '{v.variant}' in '{name}': "
                          "see `espeak-ng --voices=variant` (e.g. m3, f2, klatt)")
    return v


def check_word(word: str) -> str:
    """A word espeak-ng reads as one word (not spelled out or named as a symbol)."""
    w = word.strip().lower()
    if not w:
        raise SpeechError("empty keyword: give words separated by commas, e.g. --words yes,no,up,down")
    if not WORD_RE.match(w):
        raise SpeechError(f"espeak-ng cannot say '{word}' as a word (it would read out symbols or foreign "
                          "letters): use English words of letters a-z only")
    phonemes = _run(["-q", "-x", "-v", "en-us", w]).stdout.decode(errors="replace").strip()
    if not phonemes:
        raise SpeechError(f"espeak-ng has no pronunciation for '{word}'; choose another word")
    return w


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as f:
        rate, width, ch = f.getframerate(), f.getsampwidth(), f.getnchannels()
        # espeak-ng streams to stdout, so the header's frame count is a placeholder: read to the end.
        frames = f.readframes(1 << 30)
    if width != 2 or ch != 1:
        raise SpeechError(f"espeak-ng wrote {ch}-channel {8 * width}-bit audio; expected 16-bit mono")
    return np.frombuffer(frames, "<i2"), rate


def resample_to_16k(x: np.ndarray, rate: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    if rate == RATE:
        return x.astype(np.int16)
    g = gcd(RATE, rate)
    y = resample_poly(x.astype(np.float64), RATE // g, rate // g)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def trim(x: np.ndarray, level: int = 300) -> np.ndarray:
    """Cut espeak-ng's leading and trailing silence, so placement in the 1 s clip is ours."""
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > level)
    if len(loud) == 0:
        return x[:0]
    return x[loud[0]:loud[-1] + 1]


def synthesize(word: str, voice: Voice, speed: int, pitch: int, cache: Path | None = None,
               espeak_version: str = "") -> np.ndarray:
    """One utterance as int16 at 16 kHz, trimmed; cached under `cache` when given."""
    key = hashlib.sha256(f"{espeak_version}|{word}|{voice.name}|{speed}|{pitch}".encode()).hexdigest()[:24]
    path = cache / f"{key}.npy" if cache is not None else None
    if path is not None and path.is_file():
        return np.load(path)
    r = _run(["-v", voice.name, "-s", str(speed), "-p", str(pitch), "--stdout", word])
    if r.returncode != 0 or len(r.stdout) < 44:
        msg = r.stderr.decode(errors="replace").strip().splitlines()
        raise SpeechError(f"espeak-ng failed for '{word}' with voice {voice.name}: "
                          f"{msg[-1] if msg else 'no audio'}")
    x, rate = _read_wav(r.stdout)
    y = trim(resample_to_16k(x, rate))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, y)
        tmp.replace(path)
    return y


def read_wav16k(path: str | Path) -> np.ndarray:
    """A 16 kHz mono 16-bit WAV file as int16 (the recordings in ../shared)."""
    x, rate = _read_wav(Path(path).read_bytes())
    if rate != RATE:
        x = resample_to_16k(x, rate)
    return x.astype(np.int16)
