"""The keyword data set: synthetic utterances placed in 1 s clips, and their features.

Classes follow micro_speech: "silence" (background only), "unknown" (other
words), then the keywords. Every clip is one second, the utterance placed
around the middle with a random shift, scaled to a random level and mixed
with background noise from the real recordings (TFLM's noise and silence
clips, circularly shifted), so the model learns words and not espeak-ng's
clean studio.

All randomness comes from one numpy Generator seeded by the recipe, drawn in
a fixed order, so the same recipe gives the same clips byte for byte.
Features are computed with the board's own front end
(`edgeloop_fw.audio.AudioFrontend`), in worker processes because it is
pure Python (~80 ms per clip).
"""

from __future__ import annotations

import hashlib
import os
from array import array
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import speech
from .speech import SpeechError, Voice

CLIP = 16000  # one second at 16 kHz
FRAMES, CHANNELS = 49, 40
SILENCE, UNKNOWN = "silence", "unknown"
# Filler words for the "unknown" class (the keywords themselves are removed).
UNKNOWN_WORDS = ("left", "right", "on", "off", "stop", "go", "up", "down", "yes", "no", "zero", "one",
                 "two", "three", "four", "five", "six", "seven", "eight", "nine", "bed", "bird", "cat",
                 "dog", "happy", "house", "tree", "wow", "forward", "backward", "follow", "learn",
                 "visual", "wait", "help", "light", "water", "open", "close", "play")
BACKGROUNDS = ("noise_1000ms.wav", "silence_1000ms.wav")
MAX_WORD_SAMPLES = 15000  # a keyword must fit the 1 s window with a little room


@dataclass
class DataRecipe:
    words: list[str]
    voices: int = 32
    voice_names: list[str] | None = None  # explicit voices instead of a seeded pick
    held_out: float = 0.25  # fraction of voices (whole variants) kept for testing
    seed: int = 0
    renditions: int = 3  # speed/pitch draws per voice and keyword (training voices)
    test_renditions: int = 2
    unknown_per_voice: int = 4
    augment: int = 2  # noisy/shifted copies of each training utterance
    silence_fraction: float = 0.15  # silence clips relative to all word clips

    def classes(self) -> list[str]:
        return [SILENCE, UNKNOWN, *self.words]


@dataclass
class Utterance:
    word: str
    label: int
    voice: Voice
    speed: int
    pitch: int


@dataclass
class DataSet:
    classes: list[str]
    x: np.ndarray  # int8 features (N, 49, 40)
    y: np.ndarray  # class indices
    voices: list[str] = field(default_factory=list)  # voice of each clip ("" for silence)


def pick_voices(recipe: DataRecipe) -> tuple[list[Voice], list[Voice]]:
    """(training voices, held-out voices), whole variants apart."""
    accents, variants = speech.accents(), speech.variants()
    if recipe.voice_names:
        chosen = [speech.check_voice(n, accents, variants) for n in recipe.voice_names]
    else:
        if recipe.voices < 2:
            raise SpeechError(f"--voices {recipe.voices}: at least 2 voices are needed (one to train, one held out)")
        if recipe.voices > len(variants):
            raise SpeechError(f"--voices {recipe.voices}: espeak-ng has only {len(variants)} voice variants")
        rng = np.random.default_rng([recipe.seed, 1])
        picked = [variants[i] for i in rng.permutation(len(variants))[:recipe.voices]]
        order = [accents[i] for i in rng.permutation(len(accents))]
        chosen = [Voice(order[i % len(order)], v) for i, v in enumerate(picked)]
    if len({v.variant for v in chosen}) < 2:
        raise SpeechError("give at least 2 voices with different variants (one to train, one held out)")
    n_test = min(len(chosen) - 1, max(1, round(len(chosen) * recipe.held_out)))
    test_variants = {v.variant for v in chosen[:n_test]}
    test = [v for v in chosen if v.variant in test_variants]
    train = [v for v in chosen if v.variant not in test_variants]
    return train, test


def check_words(words: list[str]) -> list[str]:
    if not words or not any(w.strip() for w in words):
        raise SpeechError("empty word list: give keywords separated by commas, e.g. --words yes,no,up,down")
    out = []
    for w in words:
        w = speech.check_word(w)
        if w in (SILENCE, UNKNOWN):
            raise SpeechError(f"'{w}' is the name of a built-in class; choose another keyword")
        if w in out:
            raise SpeechError(f"keyword '{w}' is given twice")
        out.append(w)
    return out


def utterances(recipe: DataRecipe, voices: list[Voice], renditions: int, rng: np.random.Generator) -> list[Utterance]:
    classes = recipe.classes()
    fillers = [w for w in UNKNOWN_WORDS if w not in recipe.words]
    out = []
    for v in voices:
        for w in recipe.words:
            for _ in range(renditions):
                out.append(Utterance(w, classes.index(w), v, int(rng.integers(120, 201)), int(rng.integers(25, 76))))
        for i in rng.permutation(len(fillers))[:recipe.unknown_per_voice]:
            out.append(Utterance(fillers[i], 1, v, int(rng.integers(120, 201)), int(rng.integers(25, 76))))
    return out


def synthesize_all(utts: list[Utterance], cache: Path | None, progress=None) -> list[np.ndarray]:
    """espeak-ng for every utterance, a few processes at a time (each call is a subprocess)."""
    ver = speech.version()
    done = [0]

    def one(u):
        return speech.synthesize(u.word, u.voice, u.speed, u.pitch, cache, ver)

    out = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for audio in pool.map(one, utts):
            out.append(audio)
            done[0] += 1
            if progress:
                progress(done[0], len(utts))
    for u, a in zip(utts, out):
        if len(a) == 0:
            raise SpeechError(f"espeak-ng produced only silence for '{u.word}' with voice {u.voice.name}; "
                              "choose another word or voice")
        if u.label >= 2 and len(a) > MAX_WORD_SAMPLES:
            raise SpeechError(f"'{u.word}' takes {len(a) / speech.RATE:.2f} s to say with voice {u.voice.name} "
                              f"at speed {u.speed}; a keyword must fit the 1 s window: choose a shorter word")
    return out


def place(audio: np.ndarray, backgrounds: list[np.ndarray], rng: np.random.Generator, *,
          noise_p: float = 0.8, noise_max: float = 0.4) -> np.ndarray:
    """One second: the utterance at a random level and a random place, over random background.

    Anywhere in the second, not just near the middle: on the board the
    window slides over the word, and every window that holds the whole word
    should say so (micro_speech's +-100 ms shifts suit clips cut around the
    word, not a stream)."""
    clip = np.zeros(CLIP, np.float64)
    a = audio.astype(np.float64)
    if len(a) > CLIP:
        start = (len(a) - CLIP) // 2
        a = a[start:start + CLIP]
    peak = np.abs(a).max() or 1.0
    a *= (32767 * float(np.exp(rng.uniform(np.log(0.15), np.log(0.95))))) / peak
    at = int(rng.integers(0, CLIP - len(a) + 1))
    clip[at:at + len(a)] = a
    bg = background(backgrounds, rng, noise_max) if rng.random() < noise_p else 0.0
    return np.clip(np.round(clip + bg), -32768, 32767).astype(np.int16)


def background(backgrounds: list[np.ndarray], rng: np.random.Generator, gain_max: float) -> np.ndarray:
    b = backgrounds[int(rng.integers(len(backgrounds)))].astype(np.float64)
    b = np.roll(b, int(rng.integers(CLIP)))
    return b * rng.uniform(0.0, gain_max) + rng.normal(0.0, rng.uniform(0.5, 8.0), CLIP)


def silence_clip(backgrounds: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    bg = background(backgrounds, rng, 1.2) if rng.random() < 0.85 else rng.normal(0.0, 3.0, CLIP)
    return np.clip(np.round(bg), -32768, 32767).astype(np.int16)


_FRONTEND = []  # one front end per worker process, made on first use


def _features(clip: np.ndarray) -> bytes:
    if not _FRONTEND:
        from edgeloop_fw.audio import AudioFrontend
        _FRONTEND.append(AudioFrontend())
    return bytes(_FRONTEND[0].clip_features(array("h", clip.astype("<i2").tobytes())))


def features(clips: list[np.ndarray], cache: Path | None, jobs: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """49x40 int8 features per clip by the board's front end; cached per clip content."""
    n = len(clips)
    out = np.zeros((n, FRAMES, CHANNELS), np.int8)
    keys = [hashlib.sha256(c.tobytes()).hexdigest()[:24] for c in clips]
    todo = []
    for i, k in enumerate(keys):
        p = cache / f"{k}.f8" if cache is not None else None
        if p is not None and p.is_file() and p.stat().st_size == FRAMES * CHANNELS:
            out[i] = np.frombuffer(p.read_bytes(), np.int8).reshape(FRAMES, CHANNELS)
        else:
            todo.append(i)
    done = n - len(todo)
    if progress:
        progress(done, n)
    if todo:
        jobs = jobs or min(len(todo), os.cpu_count() or 1)
        chunk = max(1, len(todo) // (4 * jobs))
        # Not a plain fork: a process that has loaded TensorFlow (its thread pools)
        # can deadlock in a forked child. A fork server starts clean.
        import multiprocessing
        try:
            ctx = multiprocessing.get_context("forkserver")
        except ValueError:
            ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            for i, f in zip(todo, pool.map(_features, [clips[i] for i in todo], chunksize=chunk)):
                out[i] = np.frombuffer(f, np.int8).reshape(FRAMES, CHANNELS)
                if cache is not None:
                    cache.mkdir(parents=True, exist_ok=True)
                    (cache / f"{keys[i]}.f8").write_bytes(f)
                done += 1
                if progress:
                    progress(done, n)
    return out


def load_backgrounds(data_dir: Path) -> list[np.ndarray]:
    out = []
    for name in BACKGROUNDS:
        p = data_dir / name
        if not p.is_file():
            raise SpeechError(f"background recording {p} is missing; give --noise-dir with "
                              f"{' and '.join(BACKGROUNDS)} (TFLM's micro_speech recordings)")
        out.append(speech.read_wav16k(p)[:CLIP])
    return out


def build_clips(recipe: DataRecipe, backgrounds: list[np.ndarray], cache: Path | None,
                progress: Callable[[str, int, int], None] | None = None):
    """(train clips, labels, voices), (test clips, labels, voices), train voices, test voices."""
    train_v, test_v = pick_voices(recipe)
    rng = np.random.default_rng([recipe.seed, 2])
    u_train = utterances(recipe, train_v, recipe.renditions, rng)
    u_test = utterances(recipe, test_v, recipe.test_renditions, rng)
    step = (lambda d, t: progress("synthesize", d, t)) if progress else None
    audio = synthesize_all(u_train + u_test, cache / "speech" if cache else None, step)
    a_train, a_test = audio[:len(u_train)], audio[len(u_train):]

    def compose(utts, audios, copies):
        clips, labels, names = [], [], []
        for u, a in zip(utts, audios):
            for _ in range(copies):
                clips.append(place(a, backgrounds, rng))
                labels.append(u.label)
                names.append(u.voice.name)
        n_sil = max(1, round(len(clips) * recipe.silence_fraction))
        for _ in range(n_sil):
            clips.append(silence_clip(backgrounds, rng))
            labels.append(0)
            names.append("")
        return clips, np.array(labels, np.int64), names

    train = compose(u_train, a_train, recipe.augment)
    test = compose(u_test, a_test, 1)
    return train, test, train_v, test_v
