"""`edgeloop drift`: do the field windows still look like the training data?

Compares the windows in the inference log with the model folder's
training_reference.json (edgeloop.trainref), overall, per device and per UTC
day, with three plain measures:

- PSI (population stability index) per feature on the reference's decile
  bins (edgeloop.trainref.psi). Usual reading: below 0.1 stable, 0.1-0.25 a
  moderate shift, above 0.25 a large one.
- Kolmogorov-Smirnov, two-sample (scipy.stats.ks_2samp) per feature, field
  values against the reference's training sample: the statistic (largest CDF
  gap) and its p-value.
- the share of windows whose logged top score is below the reference's
  low-confidence threshold, against the same share on the held-out windows.

Small gesture sets have few takes, and unseen takes of the same population
already differ from the training takes (the reference records by how much:
its `heldout` PSI and KS per feature). So a feature drifts when it is beyond
both the usual threshold and what the held-out takes showed:
  drift  PSI >= max(PSI_DRIFT, 2 x held-out PSI), or KS significant
         (p < KS_ALPHA) with a gap >= max(KS_DRIFT, held-out gap + 0.2),
         or the low-confidence share rose by LOW_RISE or more;
  watch  PSI >= max(PSI_WATCH, 1.5 x held-out PSI), or KS significant with a
         gap >= max(KS_WATCH, held-out gap + 0.1);
  else stable. Groups with fewer than MIN_WINDOWS windows say so instead of
a verdict (their numbers are still shown).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeloop_fw import features as F

from .. import modelinfo as MI
from .. import trainref as R
from ..errors import EdgeloopError
from ..log.db import shown
from ..log.labels import Window, load_windows
from ..train.reference import window_features

PSI_WATCH, PSI_DRIFT = 0.1, 0.25
KS_ALPHA = 0.01
KS_WATCH, KS_DRIFT = 0.1, 0.3
LOW_RISE = 0.15
MIN_WINDOWS = 20


class DriftError(EdgeloopError):
    """The drift check cannot run (no windows, no reference, a model that does not fit the log)."""


@dataclass
class Group:
    by: str  # "all", "device", "day"
    key: str
    windows: int
    low_share: float | None
    psi: dict[str, float] = field(default_factory=dict)
    ks: dict[str, tuple[float, float]] = field(default_factory=dict)  # feature -> (statistic, p-value)
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)

    @property
    def worst_psi(self) -> tuple[str, float]:
        return max(self.psi.items(), key=lambda kv: kv[1])

    @property
    def worst_ks(self) -> tuple[str, tuple[float, float]]:
        return max(self.ks.items(), key=lambda kv: kv[1][0])


@dataclass
class DriftResult:
    model: Path
    model_hash: str
    reference: dict
    groups: list[Group]
    features: np.ndarray  # (windows, features) of the field windows, for the report
    windows: list[Window]

    @property
    def overall(self) -> Group:
        return self.groups[0]


def model_hash(folder: Path, info: MI.ModelInfo) -> str:
    """The hash a board running this model logs: the first 8 bytes of the file's SHA-256, hex."""
    return hashlib.sha256((Path(folder) / info.model["file"]).read_bytes()).hexdigest()[:16]


def _score(group: Group, ref: dict, feats: np.ndarray, conf: np.ndarray) -> Group:
    from scipy.stats import ks_2samp

    base = ref["heldout"]
    for j, name in enumerate(ref["features"]):
        group.psi[name] = R.psi(ref["bins"][name]["share"], feats[:, j], ref["bins"][name]["cuts"])
        r = ks_2samp(feats[:, j], np.asarray(ref["sample"][name], np.float64))
        group.ks[name] = (float(r.statistic), float(r.pvalue))
    c = ref["confidence"]
    known = conf[~np.isnan(conf)]
    group.low_share = float((known < c["low_threshold"]).mean()) if len(known) else None
    drift, watch = [], []
    for name, v in group.psi.items():
        b = base["psi"][name]
        (drift if v >= max(PSI_DRIFT, 2 * b) else watch if v >= max(PSI_WATCH, 1.5 * b) else []).append(
            f"PSI {name} {v:.2f} (held out {b:.2f})")
    for name, (stat, p) in group.ks.items():
        b = base["ks"][name]
        if p < KS_ALPHA:
            (drift if stat >= max(KS_DRIFT, b + 0.2) else watch if stat >= max(KS_WATCH, b + 0.1) else []).append(
                f"KS {name} {stat:.2f} (held out {b:.2f})")
    if group.low_share is not None and c.get("low_share") is not None and group.low_share - c["low_share"] >= LOW_RISE:
        drift.append(f"low-confidence share {100 * group.low_share:.0f} % (held out: {100 * c['low_share']:.0f} %)")
    if group.windows < MIN_WINDOWS:
        group.verdict = "too few windows"
    else:
        group.verdict = "drift" if drift else "watch" if watch else "stable"
    group.reasons = drift or watch
    return group


def check(db: str | Path, model: str | Path, *, any_model: bool = False) -> DriftResult:
    """Drift of the logged windows (of this model, unless `any_model`) against the model's reference."""
    folder = Path(model)
    info = MI.load(folder)
    if info.task != "gesture":
        raise DriftError(f"{folder} is a {info.task} model; drift checks gesture models (sensor windows)")
    ref = R.load(folder)
    h = model_hash(folder, info)
    ws = load_windows(db, model=None if any_model else h)
    if not ws:
        total = len(load_windows(db))
        hint = (f"{total} logged windows are of other models; pass --any-model to compare them anyway"
                if total else "only inferences logged with `edgeloop monitor --window` carry their window")
        raise DriftError(f"no logged windows of model {h} ({folder}) in {shown(db)}: {hint}")
    channels = len(info.channels or []) or 3
    shapes = {w.raw.shape for w in ws}
    if shapes != {(info.window, channels)}:
        raise DriftError(f"the logged windows are {', '.join('x'.join(map(str, s)) for s in sorted(shapes))} "
                         f"(frames x channels) but {folder} reads {info.window}x{channels}; pass the model "
                         "that logged them")
    feats = window_features(np.stack([w.raw for w in ws])).astype(np.float64)
    if len(ref["features"]) != feats.shape[1] or ref["features"] != F.feature_names(info.channels or ["x", "y", "z"]):
        raise DriftError(f"{folder}/{R.FILE_NAME} has other features than this edgeloop computes; "
                         f"rebuild it with `edgeloop drift --model {folder} --make-reference`")
    conf = np.array([np.nan if w.confidence is None else w.confidence for w in ws])
    groups = [_score(Group("all", "all windows", len(ws), None), ref, feats, conf)]
    for by, key_of in (("device", lambda w: w.device_id), ("day", lambda w: w.day)):
        keys = [key_of(w) for w in ws]
        for key in sorted(set(keys)):
            sel = np.array([k == key for k in keys])
            groups.append(_score(Group(by, key, int(sel.sum()), None), ref, feats[sel], conf[sel]))
    return DriftResult(folder, h, ref, groups, feats, ws)


def make_reference(model: str | Path) -> Path:
    from ..train.reference import for_folder

    return R.save(for_folder(model), model)


def verdict_line(result: DriftResult) -> str:
    g = result.overall
    flagged = [f"{x.by} {x.key}" for x in result.groups[1:] if x.verdict == "drift"]
    text = {"drift": "DRIFT: the field data no longer looks like the training data",
            "watch": "WATCH: the field data has moved a little from the training data",
            "stable": "STABLE: the field data looks like the training data",
            "too few windows": f"TOO FEW WINDOWS ({g.windows}; need {MIN_WINDOWS}) for a verdict"}[g.verdict]
    if flagged:
        text += f" (drift in {', '.join(flagged)})"
    if g.reasons:
        text += "; " + ", ".join(g.reasons[:4]) + (" ..." if len(g.reasons) > 4 else "")
    return text

