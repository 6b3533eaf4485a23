"""Real recordings for `edgeloop train keyword --recordings DIR`: the Speech Commands layout, a
speaker-disjoint split, and augmentation that sounds like the field.

    DIR/
      yes/  no/  up/ ...      one folder per word: <speaker>_nohash_<n>.wav or .flac
      _unknown_/              other words: <word>_<speaker>_nohash_<n>.(wav|flac)
      _silence_/              background only (no speaker)

A folder named after a keyword gives that class; `_silence_` (or `silence`) gives silence;
`_unknown_` (or `unknown`) and every other word folder give `unknown` -- the model must say
"not my word" to them, which is what `unknown` is for. Clips are read as 16 kHz mono int16
(WAV by Python's wave module, FLAC by sox) and made one second as recordings.one_second does.

The split is by speaker (recordings.speaker_of), never by clip: a voice the model trained on
would flatter its score. Silence clips have no speaker and are split by file.

Augmentation (training copies only; held-out clips are scored as recorded): speed/pitch
(resampling by 0.85-1.15, which moves both as a faster or slower talker does), a time shift
(the board's window slides over the word), gain (near and far talkers, quiet microphones),
and background noise at a signal-to-noise ratio drawn from a few levels, taken from the
training speakers' `_silence_` clips and TFLM's noise recording. All randomness comes from one
seeded numpy Generator drawn in a fixed order, so a recipe gives the same clips every time.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .recordings import RecordingsError, one_second, speaker_of

RATE = 16000
CLIP = 16000
SILENCE_DIRS = ("_silence_", "silence")
UNKNOWN_DIRS = ("_unknown_", "unknown")
SUFFIXES = (".wav", ".flac")
SNR_DB = (0.0, 5.0, 10.0, 20.0, 30.0)  # background levels a training copy is mixed at


@dataclass
class Clip:
    rel: str  # "<folder>/<file>"
    word: str  # the folder's word ("_unknown_" clips: the word in the file name)
    label: int
    speaker: str  # "" for background clips
    audio: np.ndarray  # int16, one second


def _read_wav(path: Path) -> np.ndarray:
    try:
        with wave.open(str(path), "rb") as f:
            rate, width, ch = f.getframerate(), f.getsampwidth(), f.getnchannels()
            frames = f.readframes(f.getnframes())
    except (wave.Error, EOFError, OSError) as e:
        raise RecordingsError(f"{path}: not a readable WAV file ({e}); give 16 kHz mono 16-bit PCM "
                              "(sox in.wav -r 16000 -c 1 -b 16 out.wav)") from None
    if rate != RATE or ch != 1 or width != 2:
        raise RecordingsError(f"{path}: {rate} Hz, {ch} channel(s), {8 * width}-bit; keyword models hear 16000 Hz "
                              "mono 16-bit: convert it (sox in.wav -r 16000 -c 1 -b 16 out.wav)")
    return np.frombuffer(frames, "<i2").astype(np.int16)


def _read_flac(path: Path) -> np.ndarray:
    if shutil.which("sox") is None:
        raise RecordingsError(f"{path}: FLAC needs sox to decode; install it (apt-get install sox) "
                              "or give WAV files")
    info = subprocess.run(["sox", "--i", "-r", str(path)], capture_output=True, text=True)
    chans = subprocess.run(["sox", "--i", "-c", str(path)], capture_output=True, text=True)
    if info.returncode or chans.returncode:
        raise RecordingsError(f"{path}: not a readable FLAC file; record it again or remove it")
    if info.stdout.strip() != str(RATE) or chans.stdout.strip() != "1":
        raise RecordingsError(f"{path}: {info.stdout.strip()} Hz, {chans.stdout.strip()} channel(s); keyword models "
                              "hear 16000 Hz mono: convert it (sox in.flac -r 16000 -c 1 out.flac)")
    r = subprocess.run(["sox", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"],
                       capture_output=True)
    if r.returncode:
        raise RecordingsError(f"{path}: sox could not decode it ({r.stderr.decode(errors='replace').strip()[:80]})")
    return np.frombuffer(r.stdout, "<i2").astype(np.int16)


def read_clip(path: Path) -> np.ndarray:
    x = _read_flac(path) if path.suffix.lower() == ".flac" else _read_wav(path)
    if not len(x):
        raise RecordingsError(f"{path}: no samples; record it again or remove it")
    return one_second(x)


def label_of(folder: str, words: list[str]) -> int:
    """Class index in [silence, unknown, *words] of a folder."""
    if folder in SILENCE_DIRS:
        return 0
    if folder in words:
        return 2 + words.index(folder)
    return 1


def scan(root: str | Path, words: list[str]) -> list[tuple[Path, str, int, str]]:
    """(path, word, label, speaker) of every clip, sorted; checked before anything is decoded."""
    root = Path(root)
    if not root.is_dir():
        raise RecordingsError(f"--recordings {root} is not a folder; give one folder per word "
                              "(the Speech Commands layout: yes/, no/, _unknown_/, _silence_/)")
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = label_of(d.name, words)
        for p in sorted(q for q in d.iterdir() if q.is_file() and not q.name.startswith(".")):
            if p.suffix.lower() not in SUFFIXES:
                continue  # MANIFEST.tsv, README, LICENSE beside the clips
            if d.name in UNKNOWN_DIRS and "_nohash_" in p.stem:
                word = p.stem.split("_nohash_")[0].rsplit("_", 1)[0]
            else:
                word = "silence" if label == 0 else d.name
            out.append((p, word, label, "" if label == 0 else speaker_of(p.name)))
    if not any(r[2] >= 2 for r in out):
        raise RecordingsError(f"{root} holds no recordings of {', '.join(words)}; give a folder per keyword "
                              "of WAV or FLAC clips")
    return out


def load(root: str | Path, words: list[str], jobs: int = 4, progress=None) -> list[Clip]:
    """Every clip under root, decoded (a few sox processes at a time)."""
    found = scan(root, words)
    root = Path(root)
    done = [0]

    def one(item):
        return read_clip(item[0])

    clips = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (p, word, label, spk), audio in zip(found, pool.map(one, found)):
            clips.append(Clip(str(p.relative_to(root)), word, label, spk, audio))
            done[0] += 1
            if progress:
                progress(done[0], len(found))
    return clips


def missing_words(clips: list[Clip], words: list[str]) -> list[str]:
    have = {c.label for c in clips}
    return [w for i, w in enumerate(words) if 2 + i not in have]


def split(clips: list[Clip], held_out: float, seed: int) -> tuple[list[Clip], list[Clip], list[str], list[str]]:
    """(train, held-out, train speakers, held-out speakers): whole speakers apart; background clips by file."""
    speakers = sorted({c.speaker for c in clips if c.speaker})
    rng = np.random.default_rng([seed, 11])
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    n_test = min(len(order) - 1, max(1, round(len(order) * held_out))) if len(order) > 1 else 0
    test_spk = set(order[:n_test])
    bg = sorted(c.rel for c in clips if not c.speaker)
    bg_test = {bg[i] for i in rng.permutation(len(bg))[:round(len(bg) * held_out)]}
    train = [c for c in clips if (c.speaker and c.speaker not in test_spk) or (not c.speaker and c.rel not in bg_test)]
    test = [c for c in clips if (c.speaker and c.speaker in test_spk) or (not c.speaker and c.rel in bg_test)]
    return train, test, sorted(set(order) - test_spk), sorted(test_spk)


def folder_hash(clips: list[Clip]) -> str:
    """sha256 over "<rel>\\t<sha256 of the decoded samples>\\n" in sorted order: which data trained the model."""
    h = hashlib.sha256()
    for c in sorted(clips, key=lambda c: c.rel):
        h.update(f"{c.rel}\t{hashlib.sha256(c.audio.astype('<i2').tobytes()).hexdigest()}\n".encode())
    return h.hexdigest()


# -- augmentation ------------------------------------------------------------------------------

def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Played `factor` times faster (pitch up by the same ratio), linear interpolation, same length."""
    n = len(x)
    src = np.arange(n, dtype=np.float64) * factor
    centre = (n - 1) / 2.0
    src = centre + (src - centre * factor)  # keep the middle (where the word is) in the middle
    out = np.interp(src, np.arange(n), x.astype(np.float64), left=0.0, right=0.0)
    return out


def shift(x: np.ndarray, samples: int) -> np.ndarray:
    out = np.zeros_like(x)
    if samples >= 0:
        out[samples:] = x[:len(x) - samples]
    else:
        out[:samples] = x[-samples:]
    return out


def _power(x: np.ndarray) -> float:
    return float(np.mean(x.astype(np.float64) ** 2)) + 1e-9


def augment_noise(a: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """a plus noise scaled so that the power of a over the noise's is snr_db (whole-clip powers)."""
    return a + noise * np.sqrt(_power(a) / _power(noise) / 10 ** (snr_db / 10))


def augment(x: np.ndarray, noises: list[np.ndarray], rng: np.random.Generator, *, is_silence: bool = False,
            max_shift_ms: int = 150, noise_p: float = 0.8) -> np.ndarray:
    """One training copy of a 1 s clip (draw order fixed: speed, shift, gain, noise)."""
    a = x.astype(np.float64)
    f = float(rng.uniform(0.85, 1.15))
    s = int(rng.integers(-max_shift_ms, max_shift_ms + 1)) * RATE // 1000
    g = float(np.exp(rng.uniform(np.log(0.25), np.log(2.0))))
    use_noise = rng.random() < noise_p
    snr = float(SNR_DB[int(rng.integers(len(SNR_DB)))])
    k = int(rng.integers(len(noises))) if noises else 0
    roll = int(rng.integers(CLIP))
    if is_silence:
        # Background: louder or quieter, circularly shifted; another background mixed in sometimes.
        a = np.roll(a, roll) * g
        if use_noise and noises:
            a = a + np.roll(noises[k].astype(np.float64), s) * float(rng.uniform(0.0, 1.0))
        return np.clip(np.round(a), -32768, 32767).astype(np.int16)
    a = shift(speed(a, f), s) * g
    a = np.clip(a, -32768, 32767)
    if use_noise and noises:
        a = augment_noise(a, np.roll(noises[k].astype(np.float64), roll), snr)
    return np.clip(np.round(a), -32768, 32767).astype(np.int16)


def training_clips(train: list[Clip], noises: list[np.ndarray], copies: int, seed: int,
                   unknown_copies: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Each training clip as recorded, plus `copies` augmented copies (`unknown_copies` for
    `unknown` clips, which outnumber each keyword several times)."""
    rng = np.random.default_rng([seed, 12])
    clips, labels = [], []
    for c in train:
        clips.append(c.audio)
        labels.append(c.label)
        n = copies if c.label != 1 or unknown_copies is None else unknown_copies
        for _ in range(n):
            clips.append(augment(c.audio, noises, rng, is_silence=c.label == 0))
            labels.append(c.label)
    return clips, np.array(labels, np.int64)
