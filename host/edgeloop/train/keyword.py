"""`edgeloop train keyword`: your own keywords, from synthetic speech to a model for the board.

Pipeline: espeak-ng utterances (keyword_data) → 1 s clips with noise →
49x40 int8 features from the board's own front end → a small Keras CNN
(micro_speech's "tiny conv": one strided conv, one dense layer) → full int8 by
the project's converter (TFLite's quantizer) → edgeloop model file. Then the
same held-out clips are scored three ways -- float Keras, int8 under TFLM
(the reference) and int8 under edgeloop's runtime -- and so are TFLM's real
recordings (yes, no, silence, noise), which no synthetic voice resembles.

The model's input is the front end's int8 byte itself: the float model
reads q / 128, and the calibration data holds -1 and 127/128, so the
converter picks scale 1/128 and zero point 0 exactly; the board feeds
features to the model without any rescaling, as it does for micro_speech.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConversionError
from . import keyword_data as D
from .speech import SpeechError

Progress = Callable[[str, int, int], None]  # (stage, done, total)
MODEL_NAME = "keyword"
REAL = (("yes", "yes_1000ms.wav"), ("no", "no_1000ms.wav"), (D.SILENCE, "silence_1000ms.wav"),
        (D.SILENCE, "noise_1000ms.wav"))


@dataclass
class KeywordRecipe(D.DataRecipe):
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 0.002
    label_smoothing: float = 0.0
    # 0: micro_speech's "tiny conv" (one conv layer). A second 5x5 conv of 16 filters scored the
    # same on held-out voices and the real recordings but doubled the MACs (748 k vs 344 k).
    conv2_filters: int = 0
    # The network (build_model): "tiny" (above, conv2_filters adds the second conv) or "dscnn"
    # (a conv then `blocks` depthwise-separable blocks of `width` channels, global average pool).
    arch: str = "tiny"
    width: int = 8
    blocks: int = 2
    dropout: float = 0.25
    # Real speech (real_speech.py): a Speech Commands-layout folder, split by speaker (held_out of
    # the speakers scored, never trained on); `copies` augmented copies of each training clip
    # (`unknown_copies` of each unknown one); `synthetic`: espeak-ng clips mixed into training too.
    recordings: str | None = None
    copies: int = 2
    unknown_copies: int = 1
    synthetic: bool = False
    stream_seed: int = 0
    # Continuous recognition on the board (edgeloop_fw.kws): the model only says a word while
    # all of it is in the window, ~half of a 1 s window's inferences, so average over 500 ms.
    kws_every: int = 4
    kws_average_ms: int = 500
    kws_threshold: int = 200
    kws_suppression_ms: int = 1500
    # Distillation (kws_teacher): a bigger model's soft outputs on every training copy, softened at
    # `teacher_temperature`, mixed with the true label: loss = alpha * CE(label) + (1 - alpha) *
    # T^2 * CE(teacher at T, student at T) (Hinton et al. 2015). None: the true label alone.
    teacher: str | None = None
    teacher_temperature: float = 4.0
    teacher_alpha: float = 0.5

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class KeywordResult:
    classes: list[str]
    train_voices: list[str]
    test_voices: list[str]
    counts: dict  # split -> per-class clip counts
    accuracy: dict  # "held-out voices" / "real recordings" -> edgeloop.report.data.Accuracy
    real: list[dict]  # per recording: file, expected, predicted per runner, scores
    stream: dict  # continuous recognition over the real recordings back to back
    model_bytes: int
    tflite_bytes: int
    arena: int
    tflm_arena: int | None
    macs: int
    params: int
    seconds: float
    files: dict = field(default_factory=dict)  # kind -> path written
    held_out: dict = field(default_factory=dict)  # real recordings: speakers, kws_score figures, stream
    instructions: dict = field(default_factory=dict)  # estimate on the RP2040 profile's core


def as_float(x: np.ndarray) -> np.ndarray:
    """What the float model reads: the int8 feature / 128 (scale 1/128, zero point 0 after quantization)."""
    return (x.astype(np.float32) / np.float32(128.0))[..., None]


def build_model(n_classes: int, conv2_filters: int = 0, arch: str = "tiny", width: int = 8, blocks: int = 2,
                dropout: float = 0.25):
    import keras

    inp = keras.Input((D.FRAMES, D.CHANNELS, 1))
    if arch == "dscnn":
        # Batch norm is folded into the convolutions by TFLite's converter: int8 conv + relu on the board.
        L = keras.layers
        x = L.Conv2D(width, (10, 4), strides=(2, 2), padding="same", use_bias=False, name="conv1")(inp)
        x = L.ReLU()(L.BatchNormalization()(x))
        for b in range(blocks):
            x = L.DepthwiseConv2D((3, 3), strides=(2, 2) if b == 0 else (1, 1), padding="same", use_bias=False,
                                  name=f"dw{b + 1}")(x)
            x = L.ReLU()(L.BatchNormalization()(x))
            x = L.Conv2D(width, (1, 1), use_bias=False, name=f"pw{b + 1}")(x)
            x = L.ReLU()(L.BatchNormalization()(x))
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dropout(dropout)(x)
        out = L.Dense(n_classes, activation="softmax", name="classes")(x)
        return keras.Model(inp, out, name="keyword_dscnn")
    if arch != "tiny":
        raise ConversionError(f"--arch {arch}: choose tiny or dscnn")
    x = keras.layers.Conv2D(width, (10, 8), strides=(2, 2), padding="same", activation="relu", name="conv1")(inp)
    if conv2_filters:
        x = keras.layers.Conv2D(conv2_filters, (5, 5), strides=(2, 2), padding="same", activation="relu",
                                name="conv2")(x)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inp, out, name="keyword_cnn")


def distillation_loss(n_classes: int, temperature: float, alpha: float):
    """Keras loss for targets [one-hot label | teacher's softened distribution] against the student's
    softmax: the student's distribution at temperature T is softmax(log p / T) (the logits' constant
    offset cancels), and T^2 keeps the soft term's gradient on the hard term's scale."""
    from keras import ops

    T, a = float(temperature), float(alpha)

    def loss(y_true, y_pred):
        hard, soft = y_true[:, :n_classes], y_true[:, n_classes:]
        logp = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        ce_hard = -ops.sum(hard * logp, axis=-1)
        ce_soft = -ops.sum(soft * ops.log_softmax(logp / T, axis=-1), axis=-1)
        return a * ce_hard + (1.0 - a) * T * T * ce_soft

    return loss


def train_model(x: np.ndarray, y: np.ndarray, n_classes: int, recipe: KeywordRecipe, progress: Progress | None,
                soft: np.ndarray | None = None):
    """The recipe's model fitted to labels y, or (with `soft`, the teacher's softened outputs per clip)
    to the distillation loss of the true label and the teacher."""
    from ..convert.keras import _quiet, import_tensorflow

    import_tensorflow()  # one clear line if TensorFlow is missing, and its logging quietened
    import keras

    keras.utils.set_random_seed(recipe.seed)
    model = build_model(n_classes, recipe.conv2_filters, recipe.arch, recipe.width, recipe.blocks, recipe.dropout)
    if soft is None:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
        metrics = ["accuracy"]
    else:
        loss, metrics = distillation_loss(n_classes, recipe.teacher_temperature, recipe.teacher_alpha), []
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss=loss, metrics=metrics)

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if progress:
                progress("train", epoch + 1, recipe.epochs)

    # Balance the classes: silence and unknown are not as numerous as each keyword.
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = {i: float(len(y) / (n_classes * c)) if c else 1.0 for i, c in enumerate(counts)}
    with _quiet():
        if soft is None:
            model.fit(as_float(x), np.eye(n_classes, dtype=np.float32)[y], epochs=recipe.epochs,
                      batch_size=recipe.batch_size, verbose=0, class_weight=weights, shuffle=True,
                      callbacks=[Report()])
        else:
            target = np.concatenate([np.eye(n_classes, dtype=np.float32)[y], soft.astype(np.float32)], axis=1)
            sample_weight = np.array([weights[int(c)] for c in y], np.float32)
            model.fit(as_float(x), target, sample_weight=sample_weight, epochs=recipe.epochs,
                      batch_size=recipe.batch_size, verbose=0, shuffle=True, callbacks=[Report()])
    return model


def quantize(model, x_calib: np.ndarray, progress: Progress | None):
    """Keras → int8 .tflite (the project converter) → edgeloop model file."""
    from ..convert.int8 import convert_tflite_bytes
    from ..convert.keras import convert_keras

    calib = as_float(x_calib)
    # One sample spanning the whole int8 range pins the input scale to 1/128, zero point 0.
    edge = np.full((1,) + calib.shape[1:], -1.0, np.float32)
    edge.reshape(-1)[1::2] = 127 / 128
    calib = np.concatenate([edge, calib])
    with tempfile.TemporaryDirectory(prefix="edgeloop-kws-") as tmp:
        path = Path(tmp) / "keyword.keras"
        model.save(path)
        step = (lambda d, t: progress("quantize", d, t)) if progress else None
        conv = convert_keras(path, calib, step)
    converted = convert_tflite_bytes(conv.tflite, "keyword model")
    t_in = converted.tflite.tensors[converted.tflite.inputs[0]]
    scale, zp = _quant(t_in)
    if zp != 0 or abs(scale * 128 - 1) > 1e-6:
        raise ConversionError(f"the converter chose input scale {scale} / zero point {zp}, not 1/128 / 0: "
                              "the board's features would not be the model's input")
    return conv.tflite, converted


def _quant(tensor) -> tuple[float, int]:
    if tensor.scale.size == 0:
        return 0.0, 0
    return float(tensor.scale[0]), int(tensor.zero_point[0])


def real_clips(data_dir: Path, classes: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """TFLM's four recordings with the label each should get from this model's classes."""
    from .speech import read_wav16k

    names, clips, labels = [], [], []
    for word, fname in REAL:
        p = data_dir / fname
        if not p.is_file():
            continue
        label = classes.index(word) if word in classes else classes.index(D.UNKNOWN)
        x = read_wav16k(p)[:D.CLIP]
        clips.append(np.pad(x, (0, D.CLIP - len(x))))
        names.append(fname)
        labels.append(label)
    return names, clips, np.array(labels, np.int64)


def recipe_from_json(doc: dict) -> KeywordRecipe:
    """The recipe recipe.json's "recipe" holds (unknown keys from other versions are left out)."""
    from dataclasses import fields

    known = {f.name for f in fields(KeywordRecipe)}
    return KeywordRecipe(**{k: v for k, v in doc.items() if k in known})


def fit_and_quantize(x_train: np.ndarray, y_train: np.ndarray, n_classes: int, recipe: KeywordRecipe,
                     progress: Progress | None, soft: np.ndarray | None = None):
    """The recipe's model trained on (x_train, y_train) (and the teacher's `soft` targets), then
    quantized with a seeded calibration sample: (Keras model, int8 .tflite bytes, converted edgeloop model)."""
    model = train_model(x_train, y_train, n_classes, recipe, progress, soft)
    rng = np.random.default_rng([recipe.seed, 3])
    calib_idx = rng.permutation(len(x_train))[:300]
    tflite, converted = quantize(model, x_train[calib_idx], progress)
    return model, tflite, converted


def score_all(model, tflite: bytes, converted, classes: list[str], sets: dict, recipe: KeywordRecipe,
              data_dir: Path, progress: Progress | None):
    """Float / TFLM / edgeloop accuracy on each {title: (x, y)} set (empty sets left out), TFLM's real
    recordings one by one and back to back through the board's spotter: (accuracy, real rows, stream)."""
    from ..report.validate import validate

    def float_predict(x):
        return np.asarray(model(x, training=False))

    accuracy = {}
    for title, (x, y) in sets.items():
        if len(x):
            step = (lambda d, t, title=title: progress(f"score {title}", d, t)) if progress else None
            accuracy[title] = validate(converted, tflite, as_float(x), y, float_predict=float_predict,
                                       class_names=classes, progress=step)
    names, c_real, y_real = real_clips(data_dir, classes)
    real = []
    if names:
        x_real = D.features(c_real, None, 1)
        step = (lambda d, t: progress("score recordings", d, t)) if progress else None
        accuracy["real recordings"] = validate(converted, tflite, as_float(x_real), y_real,
                                               float_predict=float_predict, class_names=classes, progress=step)
        real = _real_rows(names, y_real, x_real, converted, classes, float_predict)
    return accuracy, real, stream_detections(converted.data, classes, data_dir, recipe)


def train_keyword(recipe: KeywordRecipe, out_dir: str | os.PathLike, *, data_dir: str | os.PathLike,
                  cache_dir: str | os.PathLike | None = None, jobs: int | None = None,
                  command: str = "", progress: Progress | None = None) -> KeywordResult:
    """Everything `edgeloop train keyword` does; writes only once all of it has succeeded."""
    from ..reference.arena import smallest_arena

    t0 = time.monotonic()
    recipe.words = D.check_words(recipe.words)
    out_dir, data_dir = Path(out_dir), Path(data_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SpeechError(f"--out {out_dir} is a file; give a directory")
    cache = Path(cache_dir) if cache_dir else None
    backgrounds = D.load_backgrounds(data_dir)
    classes = recipe.classes()
    if recipe.recordings:
        return _train_real(recipe, out_dir, data_dir, backgrounds, cache, jobs, command, progress, t0)
    (c_train, y_train, v_train), (c_test, y_test, v_test), train_v, test_v = D.build_clips(
        recipe, backgrounds, cache, progress)
    step = (lambda d, t: progress("features", d, t)) if progress else None
    feats = D.features(c_train + c_test, cache / "features" if cache else None, jobs, step)
    x_train, x_test = feats[:len(c_train)], feats[len(c_train):]

    model, tflite, converted = fit_and_quantize(x_train, y_train, len(classes), recipe, progress)
    accuracy, real, stream = score_all(model, tflite, converted, classes, {"held-out voices": (x_test, y_test)},
                                       recipe, data_dir, progress)
    result = KeywordResult(
        classes=classes, train_voices=[v.name for v in train_v], test_voices=[v.name for v in test_v],
        counts={"train": np.bincount(y_train, minlength=len(classes)).tolist(),
                "held-out": np.bincount(y_test, minlength=len(classes)).tolist()},
        accuracy=accuracy, real=real, stream=stream, model_bytes=len(converted.data), tflite_bytes=len(tflite),
        arena=converted.arena_size, tflm_arena=smallest_arena(tflite), macs=converted.macs,
        params=int(model.count_params()), seconds=0.0)
    result.seconds = round(time.monotonic() - t0, 1)
    _write(out_dir, recipe, result, converted.data, tflite, command)
    return result


@dataclass
class RealTrainingSet:
    """The clips `train keyword --recordings` learns from and scores on, split by speaker."""
    clips: list
    test: list
    train_spk: list
    test_spk: list
    c_train: list
    y_train: np.ndarray
    x_train: np.ndarray
    c_test: list
    y_test: np.ndarray
    x_test: np.ndarray
    voices: list


def real_training_set(recipe: KeywordRecipe, backgrounds, cache: Path | None, jobs,
                      progress: Progress | None = None) -> RealTrainingSet:
    """Speakers split, training copies augmented, features through the board's front end: one
    place, so train keyword and the candidate benchmarks see the same clips."""
    from . import real_speech as R

    step = (lambda d, t: progress("read recordings", d, t)) if progress else None
    clips = R.load(recipe.recordings, recipe.words, progress=step)
    missing = R.missing_words(clips, recipe.words)
    if missing and not recipe.synthetic:
        raise SpeechError(f"--recordings {recipe.recordings} has no clips of {', '.join(missing)}; record them "
                          "or add --synthetic to train those words on espeak-ng speech")
    train, test, train_spk, test_spk = R.split(clips, recipe.held_out, recipe.seed)
    if not test_spk:
        raise SpeechError(f"--recordings {recipe.recordings} holds one speaker; scoring needs speakers the model "
                          "never heard: record at least two people (<name>_nohash_<n>.wav)")
    # Background for augmentation: the training split's silence clips and TFLM's noise recording;
    # the held-out silence clips make the stream's bed and are scored, never trained on.
    noises = [c.audio for c in train if c.label == 0] + [backgrounds[0]]
    c_train, y_train = R.training_clips(train, noises, recipe.copies, recipe.seed, recipe.unknown_copies)
    voices: list = []
    if recipe.synthetic:
        (c_syn, y_syn, _), _, train_v, _ = D.build_clips(recipe, backgrounds, cache, progress)
        c_train, y_train = c_train + c_syn, np.concatenate([y_train, y_syn])
        voices = [v.name for v in train_v]
    c_test = [c.audio for c in test]
    y_test = np.array([c.label for c in test], np.int64)
    step = (lambda d, t: progress("features", d, t)) if progress else None
    feats = D.features(c_train + c_test, cache / "features" if cache else None, jobs, step)
    x_train, x_test = feats[:len(c_train)], feats[len(c_train):]
    return RealTrainingSet(clips, test, train_spk, test_spk, c_train, y_train, x_train, c_test, y_test, x_test,
                           voices)


def _train_real(recipe: KeywordRecipe, out_dir: Path, data_dir: Path, backgrounds, cache: Path | None, jobs,
                command: str, progress: Progress | None, t0: float) -> KeywordResult:
    """train_keyword on real recordings: speakers split, training copies augmented, held-out speakers
    scored clip by clip (kws_score) and as one long stream through the board's spotter."""
    from ..reference.arena import smallest_arena
    from . import kws_score as S
    from . import real_speech as R

    classes = recipe.classes()
    teacher = None
    if recipe.teacher:  # a missing file or a keyword it does not know: one line before any work
        from . import kws_teacher as K
        teacher = K.Teacher(recipe.teacher)
        K.class_map(classes)
    data = real_training_set(recipe, backgrounds, cache, jobs, progress)
    clips, train_spk, test_spk, test = data.clips, data.train_spk, data.test_spk, data.test
    c_train, y_train, x_train = data.c_train, data.y_train, data.x_train
    c_test, y_test, x_test = data.c_test, data.y_test, data.x_test
    voices = data.voices

    soft, teacher_doc = None, {}
    if teacher is not None:
        soft, teacher_doc = _teach(teacher, recipe, classes, c_train, c_test, y_test, progress)
    model, tflite, converted = fit_and_quantize(x_train, y_train, len(classes), recipe, progress, soft)
    accuracy, real, stream = score_all(model, tflite, converted, classes, {"held-out speakers": (x_test, y_test)},
                                       recipe, data_dir, progress)
    scores = S.clip_scores(tflite, x_test)
    scores_doc = {"speakers": {"train": len(train_spk), "held-out": len(test_spk)},
             "held_out_speakers": test_spk, "data_sha256": R.folder_hash(clips),
             "summary": S.summary(scores, y_test, classes, recipe.kws_threshold),
             "top1": S.summary(scores, y_test, classes, 0),
             "thresholds": S.threshold_table(scores, y_test, classes),
             "words_in_unknown": sorted({c.word for c in clips if c.label == 1})}
    if teacher_doc:
        scores_doc["teacher"] = teacher_doc
    kw = [c for c in test if c.label >= 2]
    other = [c.audio for c in test if c.label == 1]
    bed = [c.audio for c in test if c.label == 0]
    sx, marks = S.make_stream([c.audio for c in kw], [c.label for c in kw], other, bed, recipe.stream_seed)
    if progress:
        progress("stream", 0, 1)
    feats_stream = S.stream_features(sx, cache / "features" if cache else None)
    scores_doc["stream"] = S.stream_score(S.TflmInterpreter(converted.data, tflite), classes, sx, marks,
                                          kws_settings(recipe), features=feats_stream)
    if progress:
        progress("stream", 1, 1)
    result = KeywordResult(
        classes=classes, train_voices=voices, test_voices=[],
        counts={"train": np.bincount(y_train, minlength=len(classes)).tolist(),
                "held-out": np.bincount(y_test, minlength=len(classes)).tolist()},
        accuracy=accuracy, real=real, stream=stream, model_bytes=len(converted.data), tflite_bytes=len(tflite),
        arena=converted.arena_size, tflm_arena=smallest_arena(tflite), macs=converted.macs,
        params=int(model.count_params()), seconds=0.0, held_out=scores_doc,
        instructions=_instructions(converted))
    result.seconds = round(time.monotonic() - t0, 1)
    _write(out_dir, recipe, result, converted.data, tflite, command)
    return result


def _teach(teacher, recipe: KeywordRecipe, classes: list[str], c_train, c_test, y_test, progress: Progress | None):
    """The teacher's softened outputs on every training copy, and its own held-out figures (the
    same kws_score table as the student's, so the card says how good the teacher was)."""
    from . import kws_score as S
    from . import kws_teacher as K

    step = (lambda d, t: progress("teacher", d, t)) if progress else None
    soft = K.soft_targets(teacher.probabilities(c_train, step), classes, recipe.teacher_temperature)
    held = teacher.scores(c_test, classes)
    return soft, {"model": Path(recipe.teacher).name, "temperature": recipe.teacher_temperature,
                  "alpha": recipe.teacher_alpha, "top1": S.summary(held, y_test, classes, 0)}


def _instructions(converted) -> dict:
    """The counted-instruction estimate on the RP2040 profile's core (boards/speed), per inference."""
    from ..boards.profiles import load as load_profile
    from ..boards.speed import estimate, load_core
    from ..report.data import layer_rows

    try:
        profile = load_profile("rp2040")
        est = estimate([(r.op, r.shape, r.macs) for r in layer_rows(converted)], load_core(profile.speed_core),
                       profile.clock_mhz)
    except Exception as e:  # the estimate is a card figure, not a reason to lose a trained model
        return {"error": str(e)}
    return {"board": "rp2040", "instructions": int(est.instructions), "ms": round(est.us(est.instructions) / 1000, 1),
            "heap_bytes": profile.heap_bytes}


STREAM = ("silence", "yes", "silence", "no", "noise", "yes", "silence")


def kws_settings(recipe: KeywordRecipe) -> dict:
    return {"every": recipe.kws_every, "average_ms": recipe.kws_average_ms, "threshold": recipe.kws_threshold,
            "suppression_ms": recipe.kws_suppression_ms}


def stream_detections(model: bytes, classes: list[str], data_dir: Path, recipe: KeywordRecipe) -> dict:
    """The board's spotter (same code, CPython) over TFLM's recordings played back to back.

    Expected: each spoken recording detected once as its word (if it is a
    keyword), within 2 s of its start; nothing else.
    """
    from array import array

    from edgeloop_fw.kws import KeywordSpotter
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    from .speech import read_wav16k

    paths = [data_dir / f"{p}_1000ms.wav" for p in STREAM]
    if not all(p.is_file() for p in paths):
        return {}
    clips = [read_wav16k(p)[:D.CLIP] for p in paths]
    x = np.concatenate([np.pad(c, (0, D.CLIP - len(c))) for c in clips])
    found = []

    def listener(k, c):
        if c >= 0:
            found.append({"class": k.classes[c], "score": k.detected_score, "ms": k.detected_ms})

    k = KeywordSpotter(Interpreter(Model(io.BytesIO(model))), classes, listener=listener, **kws_settings(recipe))
    k.feed(array("h", x.astype("<i2").tobytes()))
    expected = [(p, i * 1000) for i, p in enumerate(STREAM) if p in classes and p not in (D.SILENCE, D.UNKNOWN)]
    hits = 0
    for word, start in expected:
        if any(d["class"] == word and start <= d["ms"] <= start + 2000 for d in found):
            hits += 1
    false = [d for d in found if not any(d["class"] == w and s <= d["ms"] <= s + 2000 for w, s in expected)]
    return {"parts": list(STREAM), "detections": found, "expected": [{"class": w, "from_ms": s} for w, s in expected],
            "hits": hits, "false_alarms": len(false), "settings": kws_settings(recipe)}


def _real_rows(names, labels, x, converted, classes, float_predict) -> list[dict]:
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    it = Interpreter(Model(io.BytesIO(converted.data)))
    rows = []
    for name, label, feats in zip(names, labels, x):
        it.set_input(feats.reshape(-1).tobytes())
        it.invoke()
        out = np.frombuffer(it.get_output(), np.int8).astype(int) + 128
        f = float_predict(as_float(feats[None]))[0]
        rows.append({"file": name, "expected": classes[label], "edgeloop": classes[int(out.argmax())],
                     "score": int(out.max()), "float": classes[int(np.argmax(f))]})
    return rows


def output_files(recipe: KeywordRecipe, result: KeywordResult, elm: bytes, tflite: bytes, command: str, *,
                 recipe_extra: dict | None = None, split: dict | None = None,
                 lineage: dict | None = None) -> tuple[dict[str, bytes], object]:
    """Every file of a keyword model folder as bytes, and its ModelInfo (retrain adds split and lineage)."""
    from ..modelinfo import FILE_NAME, ModelInfo, dumps
    from .keyword_card import model_card

    recipe_doc = {"command": command, "classes": result.classes, "recipe": recipe.to_json(),
                  "train_voices": result.train_voices, "test_voices": result.test_voices,
                  "input": {"features": [D.FRAMES, D.CHANNELS], "dtype": "int8", "scale": 1 / 128,
                            "zero_point": 0, "frontend": "edgeloop_fw.audio.AudioFrontend (micro_speech)"},
                  **(recipe_extra or {})}
    data = None
    if result.held_out:
        recipe_doc["held_out_speakers"] = result.held_out["held_out_speakers"]
        data = {"recordings": recipe.recordings, "sha256": result.held_out["data_sha256"],
                "speakers": result.held_out["speakers"],
                "held_out": {k: result.held_out[k] for k in ("summary", "top1", "thresholds", "stream", "teacher")
                             if k in result.held_out},
                "instructions": result.instructions}
    info = ModelInfo(data=data, 
        task="keyword", kind="cnn", classes=result.classes, rate_hz=16000, window=480, hop=320, split=split,
        model={"file": f"{MODEL_NAME}.elm", "reference": f"{MODEL_NAME}.tflite", "bytes": result.model_bytes,
               "tflite_bytes": result.tflite_bytes, "arena_bytes": result.arena,
               "tflm_arena_bytes": result.tflm_arena, "macs": result.macs, "parameters": result.params,
               "input": recipe_doc["input"]},
        evaluation={title: {"clips": a.samples, "classes": a.classes, "counts": a.counts,
                            "per_class": a.per_class, "overall": a.overall,
                            "identical_to_tflm": a.identical_to_tflm}
                    for title, a in result.accuracy.items()},
        real_recordings=result.real, stream=result.stream, kws=kws_settings(recipe),
        train_seconds=result.seconds, lineage=lineage)
    files = {f"{MODEL_NAME}.elm": elm, f"{MODEL_NAME}.tflite": tflite,
             "recipe.json": (json.dumps(recipe_doc, indent=2) + "\n").encode(),
             "MODEL_CARD.md": model_card(recipe, result, command).encode(),
             FILE_NAME: dumps(info).encode()}
    return files, info


def _write(out_dir: Path, recipe: KeywordRecipe, result: KeywordResult, elm: bytes, tflite: bytes, command: str):
    from ..atomic import write_bytes_atomic
    from ..modelinfo import FILE_NAME

    out_dir.mkdir(parents=True, exist_ok=True)
    files, _ = output_files(recipe, result, elm, tflite, command)
    # model.json last: a folder whose model.json is there is complete
    for name in [n for n in files if n != FILE_NAME] + [FILE_NAME]:
        write_bytes_atomic(out_dir / name, files[name])
    kinds = {"model": f"{MODEL_NAME}.elm", "tflite": f"{MODEL_NAME}.tflite", "recipe": "recipe.json",
             "card": "MODEL_CARD.md", "info": FILE_NAME}
    result.files = {k: str(out_dir / v) for k, v in kinds.items()}
