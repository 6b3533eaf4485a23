"""A user's own keyword recordings: a folder with one sub-folder per word of 16 kHz mono 16-bit WAVs.

    my-words/
      yes/   f2e59fea_nohash_0.wav  f2e59fea_nohash_1.wav  0a7c2a8d_nohash_0.wav ...
      no/    ...
      unknown/   other words (optional)      silence/   background only (optional)

A word folder must be one of the model's classes (`silence` and `unknown` included): a new word
needs a new model (`edgeloop train keyword`). Everything is checked before any work: a folder
that is not a class, a file that is not a readable 16 kHz mono 16-bit WAV -- one line, nothing
written. Hidden files (".DS_Store") are skipped.

Speakers: Speech Commands names its clips `<speaker hash>_nohash_<n>.wav` (`_unknown_` ones
`<other word>_<speaker hash>_nohash_<n>.wav`); the last `_`-separated part before `_nohash_` is
the speaker, and a held-out set takes whole speakers, so no voice is both trained
on and scored. A file name without `_nohash_` is its own group (name your takes
`<you>_nohash_<n>.wav` to keep them together).

Clips are one second: shorter files are padded with zeros at the end; longer ones give the
loudest second (20 ms steps), where the word is.
"""

from __future__ import annotations

import hashlib
import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EdgeloopError

RATE = 16000
CLIP = 16000
SPEAKER_MARK = "_nohash_"


class RecordingsError(EdgeloopError):
    """A recordings folder edgeloop cannot use as it is."""


@dataclass
class Recording:
    path: Path
    rel: str  # "word/file.wav", as hashed and recorded in the lineage
    word: str
    group: str  # the speaker (or the file's own name)
    clip: np.ndarray  # int16, CLIP samples
    sha256: str  # of the file's bytes


def speaker_of(name: str) -> str:
    stem = Path(name).stem
    # "<speaker>_nohash_<n>", or "<other word>_<speaker>_nohash_<n>" as in Speech Commands' _unknown_
    return stem.split(SPEAKER_MARK, 1)[0].rsplit("_", 1)[-1] if SPEAKER_MARK in stem else stem


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz mono 16-bit PCM WAV as int16; anything else is refused in one line."""
    try:
        with wave.open(str(path), "rb") as f:
            rate, width, ch, n = f.getframerate(), f.getsampwidth(), f.getnchannels(), f.getnframes()
            frames = f.readframes(n)
    except (wave.Error, EOFError, OSError) as e:
        raise RecordingsError(f"{path}: not a readable WAV file ({e}); give 16 kHz mono 16-bit PCM WAVs "
                              "(sox in.flac -r 16000 -c 1 -b 16 out.wav)") from None
    if rate != RATE or ch != 1 or width != 2:
        raise RecordingsError(f"{path}: {rate} Hz, {ch} channel(s), {8 * width}-bit; keyword models hear "
                              f"16000 Hz mono 16-bit: convert it (sox in.wav -r 16000 -c 1 -b 16 out.wav)")
    x = np.frombuffer(frames, "<i2").astype(np.int16)
    if not len(x):
        raise RecordingsError(f"{path}: no samples; record it again or remove it")
    return x


def one_second(x: np.ndarray) -> np.ndarray:
    if len(x) <= CLIP:
        return np.pad(x, (0, CLIP - len(x)))
    e = np.concatenate([[0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(0, len(x) - CLIP + 1, 320)
    best = int(starts[np.argmax(e[starts + CLIP] - e[starts])])
    return x[best:best + CLIP].copy()


def load(folder: str | Path, classes: list[str]) -> list[Recording]:
    """Every recording under `folder`, sorted by word then file name; checked before anything is read twice."""
    root = Path(folder)
    if not root.is_dir():
        raise RecordingsError(f"--recordings {folder} is not a folder; give one folder per word of WAV files")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    loose = [p for p in entries if not p.is_dir()]
    if loose:
        raise RecordingsError(f"{loose[0]} is not in a word folder; put each recording in a folder named "
                              f"after its word ({', '.join(classes)})")
    for d in entries:
        if d.name not in classes:
            raise RecordingsError(f"word folder '{d.name}' in {folder} is not a class of the model "
                                  f"({', '.join(classes)}); a new word needs a new model: edgeloop train keyword")
    out = []
    for d in entries:
        for p in sorted(q for q in d.iterdir() if not q.name.startswith(".")):
            if not p.is_file() or p.suffix.lower() != ".wav":
                raise RecordingsError(f"{p}: only .wav files belong in a word folder; convert or remove it")
            x = read_wav(p)
            out.append(Recording(p, f"{d.name}/{p.name}", d.name, speaker_of(p.name), one_second(x),
                                 hashlib.sha256(p.read_bytes()).hexdigest()))
    if not out:
        raise RecordingsError(f"{folder} holds no recordings; add WAV files in folders named after words "
                              f"({', '.join(classes)})")
    return out


def folder_hash(recordings: list[Recording]) -> str:
    """sha256 over "<word>/<file>\\t<sha256 of the file>\\n" lines in sorted order: the data set's hash."""
    h = hashlib.sha256()
    for r in sorted(recordings, key=lambda r: r.rel):
        h.update(f"{r.rel}\t{r.sha256}\n".encode())
    return h.hexdigest()


def check_speaker(speaker: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9-]+", speaker or ""):
        raise RecordingsError(f"--speaker {speaker!r}: use letters, digits and '-' (it names the files "
                              "and groups your takes when retraining)")


def save_take(take, folder: Path, speaker: str, seconds: float) -> Path:
    """A recorded take (edgeloop.stream.recording.Take) from a microphone: its first `seconds` as
    16-bit mono WAV in `folder/<label>/<speaker>_nohash_<n>.wav`, the layout read above."""
    units = (take.hello or {}).get("units", "")
    if take.channels != 1 or units != "pcm16":
        raise RecordingsError(f"--wav keeps microphone takes, and this board streams {units or 'unknown units'}"
                              f" x {take.channels} channel(s); the take is in "
                              f"{take.files[0] if take.files else 'its .csv'}")
    check_speaker(speaker)
    word = Path(folder) / take.label
    word.mkdir(parents=True, exist_ok=True)
    taken = {p.name for p in word.glob(f"{speaker}{SPEAKER_MARK}*.wav")}
    n = 0
    while f"{speaker}{SPEAKER_MARK}{n}.wav" in taken:
        n += 1
    path = word / f"{speaker}{SPEAKER_MARK}{n}.wav"
    count = min(take.n_samples, round(seconds * (take.rate_hz or 16000)))
    pcm = np.asarray(take.data[:count], dtype="<i2").tobytes()
    tmp = path.with_name(path.name + ".part")
    try:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(take.rate_hz or 16000))
            w.writeframes(pcm)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    take.files.append(path)
    return path

