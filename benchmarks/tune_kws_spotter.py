"""Tune the keyword spotter's settings on TRAINING speakers, then report them on held-out speakers.

    .venv/bin/python benchmarks/tune_kws_spotter.py [--model models/keyword] [--cache DIR] [--alarm-cost C ...]

The same run as `edgeloop train spotter` (edgeloop/train/kws_tune.py, docs/keyword-spotting.md):
streams of the model's training speakers and of its held-out speakers (38 minutes each for the
shipped model), built like the card's stream; the model runs once per two hops of each under TFLM
and every setting of the grid is replayed through the board's decision code. The best setting on
the training stream (keywords detected minus C x false alarms) is scored on the held-out stream
beside the model's current settings (model.json's `kws`), with the settings that beat the current
ones on both figures of the training stream, if any. ~7 minutes on the shared cores with --cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from edgeloop.cli.train_spotter import spotter

    args = sys.argv[1:]
    if "--model" not in args:
        args += ["--model", str(ROOT / "models" / "keyword")]
    if "--recordings" not in args:
        args += ["--recordings", str(ROOT / ".." / "shared" / "data" / "speech_commands")]
    spotter.main(args=args, prog_name="tune_kws_spotter.py")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
