"""A bigger keyword model as teacher: its soft outputs on the training clips, for distillation.

The teacher is MLPerf Tiny's reference DS-CNN (`kws_ref_model.tflite`, 12 classes: ten words,
silence, unknown), trained on Speech Commands' training speakers -- about ten times the speech
this project's folder holds. It cannot run on the board (2.7 M MACs over a different front end)
but it can label every augmented training copy with what it hears, including how much a "no"
sounds like "go" or "down": the dark knowledge a 250-clips-per-word data set cannot teach.

Its input is not the board's micro_speech features but MLPerf's training pipeline's MFCC
(benchmark/training/keyword_spotting/get_dataset.py in mlcommons/tiny), recomputed here from
the same 1 s clip with TensorFlow's signal ops:
- the clip divided by its largest sample value (the pipeline's `reduce_max`, a signed maximum);
- STFT of 480-sample (30 ms) Hann windows every 320 samples (20 ms), FFT 512, no end padding:
  49 frames; magnitude;
- 40 mel bins from 20 to 4000 Hz (TensorFlow's linear_to_mel_weight_matrix), log(mel + 1e-6);
- the first 10 coefficients of TensorFlow's mfccs_from_log_mel_spectrograms;
- quantized with the model's own input scale and zero point.
The teacher runs int8 under TFLM, the project's reference runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConversionError

CLIP = 16000
# Output order of MLPerf Tiny's keyword model (get_dataset.py's word_labels), lower-cased.
MLPERF_CLASSES = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown")


class TeacherError(ConversionError):
    """A teacher model that cannot teach this recipe's classes (one line for the user)."""


def mlperf_mfcc(clips: list[np.ndarray] | np.ndarray, batch: int = 512) -> np.ndarray:
    """(N, 49, 10) float32 MFCC of 1 s int16 clips, as MLPerf's training pipeline computes them."""
    from ..convert.keras import import_tensorflow

    tf = import_tensorflow()
    mel = tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0)
    out = []
    for i in range(0, len(clips), batch):
        x = np.stack([np.pad(c[:CLIP], (0, CLIP - len(c[:CLIP]))) for c in clips[i:i + batch]]).astype(np.float32)
        peak = x.max(axis=1, keepdims=True)
        x = x / np.where(peak > 0, peak, np.float32(1.0))  # an all-zero or all-negative clip stays as is
        spec = tf.abs(tf.signal.stft(x, frame_length=480, frame_step=320, fft_length=512,
                                     window_fn=tf.signal.hann_window))
        logmel = tf.math.log(tf.tensordot(spec, mel, 1) + 1e-6)
        out.append(tf.signal.mfccs_from_log_mel_spectrograms(logmel)[..., :10].numpy())
    return np.concatenate(out) if out else np.zeros((0, 49, 10), np.float32)


def class_map(classes: list[str], teacher_classes=MLPERF_CLASSES) -> np.ndarray:
    """(teacher classes, our classes) 0/1 matrix: each teacher class adds its probability to ours;
    teacher words that are not our keywords count as `unknown`."""
    ours = {c: i for i, c in enumerate(classes)}
    missing = [c for c in classes[2:] if c not in teacher_classes]
    if missing:
        raise TeacherError(f"the teacher does not know {', '.join(missing)} (it knows "
                           f"{', '.join(teacher_classes[:-2])}): train without --teacher")
    m = np.zeros((len(teacher_classes), len(classes)), np.float32)
    for t, name in enumerate(teacher_classes):
        m[t, ours.get(name, ours["unknown"])] = 1.0
    return m


class Teacher:
    """The int8 teacher under TFLM: probabilities over our classes for raw 1 s clips."""

    def __init__(self, path: str | Path):
        from ..reference import tflm

        p = Path(path)
        if not p.is_file():
            raise TeacherError(f"--teacher {p}: no such file; give MLPerf Tiny's kws_ref_model.tflite")
        self.ref = tflm.interpreter(p.read_bytes(), "running the teacher model")
        d_in, d_out = self.ref.get_input_details(0), self.ref.get_output_details(0)
        self.shape = tuple(int(s) for s in d_in["shape"])
        if self.shape[1:3] != (49, 10) or int(np.prod(d_out["shape"])) != len(MLPERF_CLASSES):
            raise TeacherError(f"--teacher {p}: input {self.shape}, {int(np.prod(d_out['shape']))} outputs; "
                               "expected MLPerf Tiny's keyword model (49x10 MFCC in, 12 classes out)")
        self.in_q = _qparams(d_in)
        self.out_q = _qparams(d_out)

    def quantize(self, mfcc: np.ndarray) -> np.ndarray:
        scale, zp = self.in_q
        return np.clip(np.round(mfcc / scale) + zp, -128, 127).astype(np.int8)

    def probabilities(self, clips, progress=None) -> np.ndarray:
        """(N, 12) dequantized teacher outputs, in MLPERF_CLASSES order."""
        from ..reference import tflm

        q = self.quantize(mlperf_mfcc(clips))
        scale, zp = self.out_q
        out = np.zeros((len(q), len(MLPERF_CLASSES)), np.float32)
        for i, f in enumerate(q):
            raw = tflm.invoke(self.ref, np.ascontiguousarray(f.reshape(self.shape))).reshape(-1)
            out[i] = (raw.astype(np.float32) - zp) * scale
            if progress and (i % 500 == 0 or i == len(q) - 1):
                progress(i + 1, len(q))
        return out

    def scores(self, clips, classes: list[str]) -> np.ndarray:
        """Our classes' scores 0..255 (teacher probability x 255, summed over mapped classes), the
        kws_score scale: the teacher scored with the same table as the students."""
        p = self.probabilities(clips) @ class_map(classes)
        return np.round(np.clip(p, 0.0, 1.0) * 255).astype(np.int64)


def soft_targets(probs: np.ndarray, classes: list[str], temperature: float) -> np.ndarray:
    """The teacher's distribution over our classes softened at `temperature` (p^(1/T), renormalised,
    which is softmax(logits / T) for a softmax teacher); probabilities below half an int8 step
    are floored there so a quantized zero stays small but finite."""
    p = probs @ class_map(classes)
    p = np.maximum(p, 1.0 / 512)
    t = np.exp(np.log(p) / float(temperature))
    return (t / t.sum(axis=1, keepdims=True)).astype(np.float32)


def _qparams(detail: dict) -> tuple[float, int]:
    qp = detail.get("quantization_parameters") or {}
    scales, zps = qp.get("scales"), qp.get("zero_points")
    if scales is not None and len(scales):
        return float(scales[0]), int(zps[0])
    scale, zp = detail.get("quantization", (0.0, 0))
    return float(scale), int(zp)
