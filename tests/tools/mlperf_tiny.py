"""The four MLPerf Tiny reference int8 models (../shared/data/mlperf_tiny) and the
published figures to compare edgeloop with, from one place (tests and bench_mlperf)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.tools.paths import SHARED_DATA

DIR = SHARED_DATA / "mlperf_tiny"


@dataclass(frozen=True)
class Benchmark:
    name: str  # MLPerf Tiny's short name
    file: str
    macs: int  # as published in the data README


MODELS = (
    Benchmark("kws", "kws_ref_model.tflite", 2_664_780),  # DS-CNN keyword spotting
    Benchmark("vww", "vww_96_int8.tflite", 7_491_970),  # MobileNetV1 0.25 visual wake words
    Benchmark("ic", "pretrainedResnet_quant.tflite", 12_534_410),  # ResNet-8 CIFAR-10
    Benchmark("ad", "ad01_int8.tflite", 264_192),  # FC autoencoder anomaly detection
)

# Published MLPerf Tiny v1.2/v1.3 keyword-spotting results (data README): cycles per
# inference = clock / inferences per second. Only KWS has anchors on these cores.
ANCHORS = {
    "kws": {"m7": ("STM32H7A3 280 MHz, X-CUBE-AI", 280e6 / 88.3),
            "m0": ("STM32G0B1 (M0+) 64 MHz", 64e6 / 2.1)},
}


def random_inputs(shape, count: int, seed: int) -> list[np.ndarray]:
    """Seeded uniform int8 inputs over the whole range."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]
