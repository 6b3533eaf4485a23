"""Cut the recordings `edgeloop demo` ships from ../shared/data (maintainers; rerun after retraining).

    python -m tests.tools.demo_recordings

Gesture: the held-out takes models/gesture/model.json lists (split.test),
read from cgestures.parquet exactly as the demo reads them there (int16 mg),
into one compressed .npz with each take's name, label and rate, and the
parquet's SHA-256. Keyword: TFLM's four one-second recordings and its
preprocessor model, copied byte for byte. tests/host/demo/test_demo_shipped.py
checks the shipped files against ../shared/data with its own reader.
"""

from __future__ import annotations

import hashlib
import io
import shutil

import numpy as np

from edgeloop import modelinfo
from edgeloop.atomic import write_bytes_atomic
from edgeloop.demo.data import GESTURE_TAKES, KEYWORD_FILES, SHIPPED
from edgeloop.sim import replay as R
from tests.tools.paths import REPO, SHARED_DATA


def main() -> None:
    info = modelinfo.load(REPO / "models" / "gesture")
    parquet = SHARED_DATA / "gestures" / "cgestures.parquet"
    arrays = {"takes": np.array(info.split["test"]), "labels": [], "rates": [],
              "source_sha256": np.array(hashlib.sha256(parquet.read_bytes()).hexdigest())}
    for i, name in enumerate(info.split["test"]):
        rep = R.load(parquet, take=name.rpartition(":")[2])
        arrays[f"take{i}"] = rep.data
        arrays["labels"].append(rep.label)
        arrays["rates"].append(rep.rate_hz)
    arrays["labels"] = np.array(arrays["labels"])
    arrays["rates"] = np.array(arrays["rates"], np.float64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes_atomic(SHIPPED / GESTURE_TAKES, buf.getvalue())
    for name in KEYWORD_FILES:
        shutil.copyfile(SHARED_DATA / "tflm" / "micro_speech" / name, SHIPPED / name)
    for p in sorted(SHIPPED.iterdir()):
        print(f"{p.stat().st_size:>8,}  {p.relative_to(REPO)}")


if __name__ == "__main__":
    main()
