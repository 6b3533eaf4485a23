"""Per-tensor weight scales at a scale-product tie: every caller of quant.conv_multiplier_per_tensor.

TFLM's source takes a per-tensor op's input*weight scale product in float32
(GetQuantizedConvolutionMultipler), but the installed tflite-micro wheel
multiplies in double. The two products differ in the last float32 bit, which
moves the 31-bit multiplier by a few units: a different output only where an
accumulator lands next to a rounding boundary (int8), or wherever the 16-bit
multiplier of TFLM's int64 requantization rounds differently (16x8). Each test
builds a one-op model with one weight scale, steps the output scale until the
float32 and the double multipliers give different outputs for the chosen
inputs (a numpy model of TFLM's requantization only picks the scale), then
checks edgeloop against TFLM byte for byte -- and that the float32 product
(the old conv_multiplier_per_tensor) would have missed TFLM there, so the
test proves the fix.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from tests.tools import op_models as M
from tests.tools.op_models import Op, T
from tests.tools.scale_tie import float32_product, tie_scale

RNG_SEED = 18


def _outputs(tflite: bytes, x: np.ndarray, product):
    """edgeloop's and TFLM's output bytes for x, with conv_multiplier_per_tensor set to product."""
    from edgeloop.convert import quant
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools.runtime_helpers import edgeloop_interpreter

    mp = pytest.MonkeyPatch()
    try:
        if product is not None:
            for mod in ("common", "fully_connected", "fully_connected_16x8", "batch_matmul", "batch_matmul_16x8",
                        "lstm"):
                mp.setattr(importlib.import_module(f"edgeloop.convert.ops.{mod}"), "conv_multiplier_per_tensor",
                           product)
            mp.setattr(quant, "conv_multiplier_per_tensor", product)
        ours = edgeloop_interpreter(convert_tflite_bytes(tflite, "tie").data)
    finally:
        mp.undo()
    xs = x if isinstance(x, list) else [x]
    for i, xi in enumerate(xs):
        ours.set_input(np.ascontiguousarray(xi).tobytes(), i)
    ours.invoke()
    ref = pytest.importorskip("tflite_micro.python.tflite_micro.runtime").Interpreter.from_bytes(
        tflite, arena_size=1 << 18)  # its own estimate is short for an int16 BATCH_MATMUL
    for i, xi in enumerate(xs):
        ref.set_input(xi, i)
    ref.invoke()
    want = ref.get_output(0)
    return ours.get_output(), np.ascontiguousarray(want).tobytes()


def _check(tflite: bytes, x: np.ndarray):
    got, want = _outputs(tflite, x, None)
    old, _ = _outputs(tflite, x, float32_product)
    assert old != want, "the float32 product gave TFLM's bytes: the model holds no tie"
    assert got == want


def _io(wide: bool):
    dt = "int16" if wide else "int8"
    lo, hi = (-32768, 32767) if wide else (-128, 127)
    zp_in, zp_out = (0, 0) if wide else (-3, 5)
    return dt, lo, hi, zp_in, zp_out


@pytest.mark.parametrize("wide", [False, True], ids=["int8", "16x8"])
def test_fully_connected_per_tensor_tie_matches_tflm(wide):
    s = M.schema()
    rng = np.random.default_rng(RNG_SEED)
    dt, lo, hi, zp_in, zp_out = _io(wide)
    n, feats, units = 64, 16, 8
    si, sw, so = 0.0123, 0.00731, 0.05 if not wide else 0.0009
    w = M.random_int8(rng, (units, feats))
    x = rng.integers(lo, hi + 1, (n, feats)).astype(dt)
    bias_dt = "int64" if wide else "int32"
    b = rng.integers(-2000, 2000, units).astype(bias_dt)
    acc = (x.astype(np.int64) - zp_in) @ w.astype(np.int64).T + b
    so = tie_scale(acc, si, sw, so, zp_out, lo, hi, wide)
    tflite = M.build(
        [T("x", (n, feats), dt, si, zp_in), T("w", (units, feats), "int8", sw, 0, w),
         T("b", (units,), bias_dt, float(np.float32(si) * np.float32(sw)), 0, b), T("y", (n, units), dt, so, zp_out)],
        [Op(s.BuiltinOperator.FULLY_CONNECTED, ["x", "w", "b"], ["y"], M.options("FullyConnectedOptions"),
            "FullyConnectedOptions")], ["x"], ["y"])
    _check(tflite, x)


@pytest.mark.parametrize("wide", [False, True], ids=["int8", "16x8"])
@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_convolution_per_tensor_tie_matches_tflm(wide, depthwise):
    s = M.schema()
    rng = np.random.default_rng(RNG_SEED + 1)
    dt, lo, hi, zp_in, zp_out = _io(wide)
    h, wd, ch = 8, 8, 6
    si, sw, so = 0.0123, 0.00731, 0.02 if not wide else 0.0009
    x = rng.integers(lo, hi + 1, (1, h, wd, ch)).astype(dt)
    bias_dt = "int64" if wide else "int32"
    b = rng.integers(-2000, 2000, ch).astype(bias_dt)
    xs = x.astype(np.int64) - zp_in
    if depthwise:
        w = M.random_int8(rng, (1, 1, 1, ch))
        acc = xs * w.astype(np.int64).reshape(ch) + b
        op = Op(s.BuiltinOperator.DEPTHWISE_CONV_2D, ["x", "w", "b"], ["y"],
                M.options("DepthwiseConv2DOptions", padding=s.Padding.VALID, strideW=1, strideH=1, depthMultiplier=1,
                          dilationWFactor=1, dilationHFactor=1), "DepthwiseConv2DOptions")
    else:
        w = M.random_int8(rng, (ch, 1, 1, ch))
        acc = xs @ w.astype(np.int64).reshape(ch, ch).T + b
        op = Op(s.BuiltinOperator.CONV_2D, ["x", "w", "b"], ["y"],
                M.options("Conv2DOptions", padding=s.Padding.VALID, strideW=1, strideH=1, dilationWFactor=1,
                          dilationHFactor=1), "Conv2DOptions")
    so = tie_scale(acc, si, sw, so, zp_out, lo, hi, wide)
    tflite = M.build(
        [T("x", x.shape, dt, si, zp_in), T("w", w.shape, "int8", sw, 0, w),
         T("b", (ch,), bias_dt, float(np.float32(si) * np.float32(sw)), 0, b), T("y", x.shape, dt, so, zp_out)],
        [op], ["x"], ["y"])
    _check(tflite, x)


@pytest.mark.parametrize("wide", [False, True], ids=["int8", "16x8"])
def test_batch_matmul_tie_matches_tflm(wide):
    """Two activations, each with one scale: TFLM's batch_matmul Prepare calls the
    float32-in-the-source GetQuantizedConvolutionMultipler directly."""
    s = M.schema()
    rng = np.random.default_rng(RNG_SEED + 2)
    dt, lo, hi, zp_a, zp_out = _io(wide)
    zp_b = 0 if wide else 4
    r, k, c = 64, 12, 16
    sa, sb, so = 0.0123, 0.00731, 0.05 if not wide else 10.0
    a = rng.integers(lo, hi + 1, (1, r, k)).astype(dt)
    b = rng.integers(lo, hi + 1, (1, k, c)).astype(dt)
    acc = (a.astype(np.int64) - zp_a) @ (b.astype(np.int64) - zp_b)
    so = tie_scale(acc, sa, sb, so, zp_out, lo, hi, wide)
    tflite = M.build(
        [T("a", a.shape, dt, sa, zp_a), T("b", b.shape, dt, sb, zp_b), T("y", (1, r, c), dt, so, zp_out)],
        [Op(s.BuiltinOperator.BATCH_MATMUL, ["a", "b"], ["y"], M.options("BatchMatMulOptions"),
            "BatchMatMulOptions")], ["a", "b"], ["y"])
    _check(tflite, [a, b])
