"""training_reference.json: what the training data looked like, kept beside the model for drift checks.

Written by `edgeloop train gesture` (and `edgeloop retrain`) into the model
folder; read by `edgeloop drift`. One writer (`dumps`/`save`), one reader
(`load`), spec in docs/training-reference.md. Like model.json it is a file
format, so it sits at the bottom of the package; the numbers are computed in
train/reference.py.

Content (schema 1):
  features      names of edgeloop_fw.features.window_features (the board's
                per-window statistics, int16 board units), in order
  windows       training windows they were computed on
  sample        per feature: the values over the training windows, sorted
                (all of them up to SAMPLE_MAX; beyond, SAMPLE_MAX evenly
                spaced order statistics, which keeps the empirical CDF
                within 1/SAMPLE_MAX) -- KS tests run against this
  quantiles     per feature: the 0, 5, ..., 100 % quantiles (for people)
  bins          per feature: `cuts` (the distinct training deciles: a value
                v falls in bin searchsorted(cuts, v, side="right")) and
                `share` (training share per bin) -- PSI runs on these
  heldout       how far the model's own held-out windows (unseen takes of
                the training population) sit from the training windows:
                `windows`, per feature `psi` (by `psi` below) and `ks` (the
                two-sample KS statistic) -- drift is judged beyond these
  confidence    the top score on the held-out windows under the board's
                runtime: `edges` (0..1 in steps of 0.05), `counts`,
                `windows`, `low_threshold` and `low_share` (share below it)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .atomic import write_bytes_atomic
from .errors import ModelError

SCHEMA = 1
FILE_NAME = "training_reference.json"
SAMPLE_MAX = 2000
LOW_CONFIDENCE = 0.6
CONF_EDGES = [round(i * 0.05, 2) for i in range(21)]
QUANTILE_LEVELS = [i / 20 for i in range(21)]


class ReferenceError(ModelError):
    """training_reference.json is missing, unreadable or not in the shape its schema says."""


def cuts_of(values: np.ndarray, bins: int = 10) -> list[float]:
    """The distinct interior decile cut points of the training values (fewer bins for discrete data)."""
    qs = np.quantile(np.asarray(values, np.float64), [i / bins for i in range(1, bins)])
    return [float(v) for v in np.unique(qs)]


def bin_shares(values: np.ndarray, cuts: list[float]) -> np.ndarray:
    idx = np.searchsorted(np.asarray(cuts, np.float64), np.asarray(values, np.float64), side="right")
    return np.bincount(idx, minlength=len(cuts) + 1) / max(1, len(values))


PSI_FLOOR = 1e-4


def psi(expected_share, values, cuts) -> float:
    """Population stability index of `values` against the training shares on the reference's bins.

    sum over bins of (a - e) * ln(a / e), where e is the training share (floored at PSI_FLOOR) and
    a the values' share with half a window added to every bin, (count + 0.5) / (n + 0.5 * bins),
    so an empty bin in a small sample counts as rare rather than impossible."""
    e = np.maximum(np.asarray(expected_share, np.float64), PSI_FLOOR)
    idx = np.searchsorted(np.asarray(cuts, np.float64), np.asarray(values, np.float64), side="right")
    counts = np.bincount(idx, minlength=len(e)).astype(np.float64)
    a = (counts + 0.5) / (counts.sum() + 0.5 * len(e))
    return float(np.sum((a - e) * np.log(a / e)))


def make(features: list[str], train_features: np.ndarray, heldout_features: np.ndarray,
         heldout_confidence: np.ndarray, *, source: str) -> dict:
    """The reference from the training windows' features, and the held-out windows' features and top scores."""
    from scipy.stats import ks_2samp

    x = np.asarray(train_features, np.float64)
    h = np.asarray(heldout_features, np.float64)
    if x.ndim != 2 or x.shape[1] != len(features) or not len(x):
        raise ReferenceError(f"training features should be (windows, {len(features)}), not {list(x.shape)}")
    sample, quantiles, bins = {}, {}, {}
    for j, name in enumerate(features):
        col = np.sort(x[:, j])
        if len(col) > SAMPLE_MAX:
            col = col[np.round(np.linspace(0, len(col) - 1, SAMPLE_MAX)).astype(int)]
        sample[name] = [_num(v) for v in col]
        quantiles[name] = [_num(v) for v in np.quantile(x[:, j], QUANTILE_LEVELS)]
        cuts = cuts_of(x[:, j])
        bins[name] = {"cuts": cuts, "share": [float(s) for s in bin_shares(x[:, j], cuts)]}
    baseline = {"windows": int(len(h)),
                "psi": {n: round(psi(bins[n]["share"], h[:, j], bins[n]["cuts"]), 6) for j, n in enumerate(features)},
                "ks": {n: round(float(ks_2samp(h[:, j], x[:, j]).statistic), 6) for j, n in enumerate(features)}}
    conf = np.asarray(heldout_confidence, np.float64)
    counts, _ = np.histogram(conf, bins=CONF_EDGES)
    return {"schema": SCHEMA, "features": list(features), "feature_source": source, "windows": int(len(x)),
            "sample": sample, "quantiles": {"levels": QUANTILE_LEVELS, **quantiles}, "bins": bins,
            "heldout": baseline, "confidence": {"windows": int(len(conf)), "edges": CONF_EDGES, "counts": [int(c) for c in counts],
                           "low_threshold": LOW_CONFIDENCE,
                           "low_share": float((conf < LOW_CONFIDENCE).mean()) if len(conf) else None}}


def _num(v):
    f = float(v)
    return int(f) if f.is_integer() else round(f, 6)


def check(ref) -> dict:
    if not isinstance(ref, dict):
        raise ReferenceError("expected a JSON object")
    if ref.get("schema") != SCHEMA:
        raise ReferenceError(f"schema {ref.get('schema')!r} is not {SCHEMA}" +
                             ("; upgrade edgeloop" if isinstance(ref.get("schema"), int) and ref["schema"] > SCHEMA else ""))
    feats = ref.get("features")
    if not isinstance(feats, list) or not feats:
        raise ReferenceError("features is missing")
    for key in ("sample", "bins"):
        if not isinstance(ref.get(key), dict) or set(ref[key]) != set(feats):
            raise ReferenceError(f"{key} should have one entry per feature")
    base = ref.get("heldout")
    if not isinstance(base, dict) or any(set(base.get(k) or {}) != set(feats) for k in ("psi", "ks")):
        raise ReferenceError("heldout should have psi and ks per feature")
    c = ref.get("confidence")
    if not isinstance(c, dict) or len(c.get("counts", [])) != len(c.get("edges", [])) - 1:
        raise ReferenceError("confidence should have edges and one count per bin")
    return ref


def dumps(ref: dict) -> str:
    check(ref)
    return json.dumps(ref, separators=(",", ":")) + "\n"


def save(ref: dict, folder: str | os.PathLike) -> Path:
    path = Path(folder) / FILE_NAME
    write_bytes_atomic(path, dumps(ref).encode())
    return path


def load(folder: str | os.PathLike) -> dict:
    path = Path(folder)
    if path.is_dir():
        path = path / FILE_NAME
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReferenceError(f"{path} does not exist: the model was trained before training references were "
                             f"kept; make it with `edgeloop drift --model {path.parent} --make-reference` "
                             "(from the data model.json names) or retrain") from None
    except (OSError, ValueError) as e:
        raise ReferenceError(f"{path} is not readable JSON ({e}); rebuild it with "
                             f"`edgeloop drift --model {path.parent} --make-reference`") from None
    try:
        return check(raw)
    except ReferenceError as e:
        raise ReferenceError(f"{path}: {e}") from None
