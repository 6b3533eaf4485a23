"""Small PyTorch models of the kinds users bring, saved as `.pt2` (torch.export) with calibration data.

Each builder fixes its seed, so a model is the same on every run; biases get non-zero values
(zero biases hide bias bugs). Inputs keep PyTorch's own layouts (NCHW images, NCL sensor
windows), which litert-torch keeps too: the converted model must be fed the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

SEED = 20261207


def cnn():
    """A small image CNN: two 3x3 convolutions, a pool, then Flatten (channels first) and Linear."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 6 * 5, 4))


def conv1d():
    """A gesture-style model: 1-D convolutions over a 3-axis window, global average, Linear."""
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv1d(3, 8, 5, stride=2)
            self.c2 = nn.Conv1d(8, 8, 3)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            x = torch.relu(self.c1(x))
            x = torch.relu(self.c2(x))
            return self.fc(x.mean(dim=2))

    return Net()


ZOO = {"cnn": cnn, "conv1d": conv1d}
SHAPES = {"cnn": (3, 12, 10), "conv1d": (3, 40)}
# Ops each model must contain after conversion (a subset check: a litert-torch upgrade that
# changes the lowering shows as a failed expectation, not as lost coverage).
OPS = {
    "cnn": {"CONV_2D", "MAX_POOL_2D", "TRANSPOSE", "FULLY_CONNECTED"},
    "conv1d": {"CONV_2D", "FULLY_CONNECTED"},
}


def build(name: str):
    import torch

    torch.manual_seed(SEED)
    model = ZOO[name]()
    rng = np.random.default_rng(SEED)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("bias"):
                p.copy_(torch.from_numpy(rng.normal(0, 0.3, tuple(p.shape)).astype(np.float32)))
    return model.eval()


def calibration(name: str, n: int = 32, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n,) + SHAPES[name]).astype(np.float32)


def save(name: str, folder):
    """(`.pt2` path, calibration `.npy` path) of model `name` in `folder`."""
    import torch

    model = build(name)
    x = calibration(name)
    pt2 = folder / f"{name}.pt2"
    torch.export.save(torch.export.export(model, (torch.from_numpy(x[:1]),)), str(pt2))
    calib = folder / f"{name}_calib.npy"
    np.save(calib, x)
    return pt2, calib


def int8_gap(name: str, tflite: bytes) -> tuple[float, float]:
    """(largest error, largest output span) of TFLM's int8 run of `tflite`, dequantized, against
    PyTorch's float model `name` on calibration-like inputs: a layout mix-up (NCHW read as
    NHWC) shows as an error near the span, rounding as a small fraction of it."""
    import torch

    from tests.tools.runtime_helpers import tflm_run

    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    module = build(name)
    ref = runtime.Interpreter.from_bytes(tflite)
    ind, outd = ref.get_input_details(0), ref.get_output_details(0)
    (s_in,), (z_in,) = ind["quantization_parameters"]["scales"], ind["quantization_parameters"]["zero_points"]
    (s_out,), (z_out,) = outd["quantization_parameters"]["scales"], outd["quantization_parameters"]["zero_points"]
    errs, spans = [], []
    for row in calibration(name, n=8, seed=11):
        q = np.clip(np.round(row / s_in) + z_in, -128, 127).astype(np.int8)[None]
        got = (tflm_run(ref, q).astype(np.float32) - z_out) * s_out
        with torch.no_grad():
            want = module(torch.from_numpy(row[None])).numpy()
        errs.append(np.abs(got.reshape(-1) - want.reshape(-1)).max())
        spans.append(np.ptp(want))
    return max(errs), max(spans)
