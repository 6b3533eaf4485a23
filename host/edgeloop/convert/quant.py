"""The float side of TFLM's Prepare: real scales -> int32 multiplier + shift.

Everything here runs once, on the host, so the board only ever does integer
math. Each function follows the TFLM/TFLite function named in its docstring,
including where TFLM rounds in float32 rather than float64, because a
different rounding of the scale is a different multiplier and a different
output byte.
"""

from __future__ import annotations

import math

import numpy as np

# ActivationFunctionType in the TFLite schema.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def tflite_round(x: float) -> int:
    """std::round: halves away from zero (Python's round() goes to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier: real = multiplier * 2**(shift - 31), multiplier in [2**30, 2**31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:  # TFLM clamps; such a scale means a broken model
        shift, q_fixed = 30, (1 << 31) - 1
    return int(q_fixed), int(shift)


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplierGreaterThanOne: the shift is a left shift, >= 0."""
    m, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"multiplier {real} is below one")
    return m, shift


def conv_multiplier_per_tensor(input_scale, filter_scale, output_scale) -> float:
    """GetQuantizedConvolutionMultipler, as the installed TFLM runs it: all in double.

    TFLM's source reads static_cast<double>(input_scale * filter_scale), a
    float32 product, but the tflite-micro wheel's machine code converts both
    float32 scales to double before multiplying (cvtss2sd, mulsd), and its
    outputs follow that: at a scale where the two products give different
    multipliers, the float32 one missed TFLM on 880 of 2,400 int16 outputs of a
    per-tensor 16x8 FULLY_CONNECTED and the double one on none. The
    per-channel path (PopulateConvolutionQuantizationParams) is double in the
    source too, so per-tensor and per-channel weights now agree.
    """
    return float(np.float32(input_scale)) * float(np.float32(filter_scale)) / float(np.float32(output_scale))


def conv_multipliers_per_channel(input_scale, filter_scales, output_scale, channels):
    """PopulateConvolutionQuantizationParams: per channel, all in double."""
    scales = np.asarray(filter_scales, np.float32)
    out = []
    for c in range(channels):
        fs = float(scales[c] if scales.size > 1 else scales[0])
        real = float(np.float32(input_scale)) * fs / float(np.float32(output_scale))
        out.append(quantize_multiplier(real))
    return out


def activation_range(act: int, scale: float, zero_point: int, qmin=-128, qmax=127) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation as an output clamp.

    TFLM quantizes the bounds with a float32 division (f / scale).
    """
    def q(f):
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    if act == ACT_NONE:
        return qmin, qmax
    if act == ACT_RELU:
        return max(qmin, q(0.0)), qmax
    if act == ACT_RELU6:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == ACT_RELU_N1_TO_1:
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(f"fused activation {ACT_NAMES.get(act, act)} has no integer clamp")


def limb_tail(mults: list[tuple[int, int]]) -> list[int]:
    """The multipliers as the board's small-int limbs, appended after an op's per-channel params.

    Layout: STEP (0 when every channel shares one multiplier, as per-tensor
    weights do; 3 otherwise), then (m0, m1, m2) once or per channel
    (edgeloop_fw.runtime.qmath.split). The full multiplier stays in its
    TFLM-named slot, so other kernel levels and tools read the params as before;
    the portable kernels use the limbs because a value of 2**30 or more read
    from the params would be a heap-allocated int on a 32-bit board.
    """
    from edgeloop_fw.runtime.qmath import split

    if len({m for m, _ in mults}) <= 1:
        return [0, *split(mults[0][0] if mults else 0)]
    return [3] + [v for m, _ in mults for v in split(m)]
