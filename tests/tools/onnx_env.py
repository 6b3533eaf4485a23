"""Where the tests find onnx2tf: $EDGELOOP_ONNX2TF, else the environment `make setup` builds for it."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP_ENV = ROOT / ".venv-onnx2tf" / "bin" / "onnx2tf"


def onnx2tf() -> Path | None:
    given = os.environ.get("EDGELOOP_ONNX2TF")
    for path in ([Path(given)] if given else []) + [SETUP_ENV]:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def export(name: str, folder: Path) -> tuple[Path, Path]:
    """(`.onnx`, calibration `.npy`) of tests/tools/torch_zoo's model `name`, exported by PyTorch's
    TorchScript-based ONNX exporter (the one that needs only the `onnx` package)."""
    import warnings

    import numpy as np
    import torch

    from tests.tools import torch_zoo

    model = torch_zoo.build(name)
    x = torch_zoo.calibration(name)
    path = folder / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x[:1]),), str(path), dynamo=False, opset_version=13,
                          input_names=["x"], output_names=["y"])
    calib = folder / f"{name}_calib.npy"
    np.save(calib, x)
    return path, calib
