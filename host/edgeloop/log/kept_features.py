"""The labelled keyword windows a board kept as features: training examples as they are.

A keyword board's capture rules keep the model's input, the second of int8 features it ran on
(MSG_KEPT layout 2; the `kept` table's `features` rows, schema 5). Training learns keyword
models on exactly those features (train.keyword), so a labelled kept window needs no audio
and no front end on the host: it is one example. Its label is its inference's
(`edgeloop label`); `labels.load_windows` already shows the features in place of the
inference's 30 ms of audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .labels import labelled_hash, load_windows

FRAMES, CHANNELS = 49, 40  # a keyword model's input: one second of the front end's frames


@dataclass
class KeptFeatures:
    id: int  # the inference's id in the log (labels are per inference)
    session_id: int
    label: str
    features: np.ndarray  # int8 (FRAMES, CHANNELS)


def labelled_features(db: str | Path) -> list[KeptFeatures]:
    """Every labelled kept feature window of a keyword model's shape, oldest first."""
    return [KeptFeatures(w.id, w.session_id or 0, w.label, w.raw.astype(np.int8))
            for w in load_windows(db, labelled=True) if w.features and w.raw.shape == (FRAMES, CHANNELS)]


def features_hash(items: list[KeptFeatures]) -> str:
    """The lineage hash of kept feature windows (labels.labelled_hash, each window as int16 values)."""
    return labelled_hash(items, lambda k: k.features.astype(np.int16))
