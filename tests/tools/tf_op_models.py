"""Small int8 .tflite models of one op each, built from a tf.function by the TFLite converter,
and the byte-for-byte comparison of every output under TFLM and under edgeloop's runtime.

One conversion per model (each takes seconds): a test puts several randomized
cases of its op into one function, one input and one output per case, so
every case is converted once. Calibration data is drawn per input with its
own spread, so the inputs' scales and zero points differ.
"""

from __future__ import annotations

import numpy as np
import pytest


def quantized(x):
    """`x + x`: an ADD in front of the op under test. The converter leaves a graph of data
    movement alone in float; after an ADD every tensor gets int8 (and a zero point of
    its own, from the calibration data's offset)."""
    return x + x


def convert(fn, shapes: list[tuple[int, ...]], seed: int = 0, int16: bool = False) -> bytes:
    """Full-integer int8 .tflite of `fn(*inputs)` for float inputs of `shapes`; with `int16`, the
    converter's 16x8 mode (int16 activations, int8 weights), as TFLM runs it."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    names = ["in%02d" % k for k in range(len(shapes))]  # the converter orders inputs by name
    specs = [tf.TensorSpec(s, tf.float32, name=n) for s, n in zip(shapes, names)]
    module = tf.Module()
    module.f = tf.function(fn, input_signature=specs)
    concrete = module.f.get_concrete_function()
    rng = np.random.default_rng(seed)
    spread = [(rng.uniform(-1.5, 0.5), rng.uniform(0.3, 3.0)) for _ in shapes]

    def representative():
        for _ in range(12):
            yield {n: (rng.normal(0, 1, s) * w + m).astype(np.float32)
                   for n, s, (m, w) in zip(names, shapes, spread)}

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    if int16:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    return bytes(conv.convert())


def tflm_interpreter(tflite: bytes):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    return runtime.Interpreter.from_bytes(tflite)


def _io_counts(tflite: bytes) -> tuple[int, int]:
    from edgeloop.convert.tflite import read_tflite
    m = read_tflite(tflite)
    return len(m.inputs), len(m.outputs)


def random_inputs(tflite: bytes, seed: int) -> list[np.ndarray]:
    """Full-range codes of its type (int8 or int16) for every model input, shaped as the model says."""
    ref = tflm_interpreter(tflite)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(_io_counts(tflite)[0]):
        d = ref.get_input_details(i)
        info = np.iinfo(d["dtype"])
        out.append(rng.integers(info.min, info.max + 1, size=tuple(d["shape"])).astype(d["dtype"]))
    return out


def tflm_outputs(tflite: bytes, xs: list[np.ndarray]) -> list[bytes]:
    ref = tflm_interpreter(tflite)
    for i, x in enumerate(xs):
        ref.set_input(x, i)
    ref.invoke()
    return [ref.get_output(k).tobytes() for k in range(_io_counts(tflite)[1])]


def edgeloop_outputs(blob: bytes, xs: list[np.ndarray]) -> list[bytes]:
    from tests.tools.runtime_helpers import edgeloop_interpreter

    ours = edgeloop_interpreter(blob)
    for i, x in enumerate(xs):
        ours.set_input(np.ascontiguousarray(x).tobytes(), i)
    ours.invoke()
    return [ours.get_output(i) for i in range(len(ours.model.outputs))]


def op_names(tflite: bytes) -> list[str]:
    from edgeloop.convert.tflite import read_tflite
    return [op.name for op in read_tflite(tflite).operators]


def assert_same_bytes(tflite: bytes, blob: bytes, seeds=(1, 2, 3)):
    """Every output byte of edgeloop equals TFLM's, for random inputs of each seed."""
    for seed in seeds:
        xs = random_inputs(tflite, seed)
        want = tflm_outputs(tflite, xs)
        got = edgeloop_outputs(blob, xs)
        assert len(got) == len(want), f"{len(got)} outputs, TFLM has {len(want)}"
        for k, (g, w) in enumerate(zip(got, want)):
            g, w = np.frombuffer(g, np.int8), np.frombuffer(w, np.int8)
            diff = np.flatnonzero(g != w) if g.size == w.size else np.arange(max(g.size, w.size))
            assert diff.size == 0, (f"seed {seed} output {k}: {diff.size} of {w.size} bytes differ, first at "
                                    f"{diff[:5]}: edgeloop {g[diff[:5]]} vs TFLM {w[diff[:5]]}")


MOVEMENT_OPS = {"PAD", "PADV2", "SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V", "UNPACK", "PACK", "GATHER"}


def movement(x):
    """Every data-movement op in one chain from one [1, 6, 5, 4] input to one output, for the
    board tests that run a model per op family (single input, output 0). Every output of
    UNPACK and SPLIT_V is used: the converter leaves them in float when one is not."""
    import tensorflow as tf

    x = quantized(x)
    a = tf.pad(x, [[0, 0], [1, 2], [0, 1], [1, 0]])                      # PAD       1x9x6x5
    b = tf.pad(x, [[0, 0], [1, 0], [2, 0], [0, 0]], constant_values=0.5)  # PADV2     1x7x7x4
    a = tf.slice(a, [0, 1, 1, 0], [1, 6, 5, 4])                           # SLICE     1x6x5x4
    b = tf.strided_slice(b, [0, -1, 1, 0], [1, 0, 7, 4], [1, -1, 2, 1],
                         begin_mask=1, end_mask=11)                       # STRIDED_SLICE 1x7x3x4
    p1, p2 = tf.split(a, 2, axis=-1)                                      # SPLIT     1x6x5x2
    s1, s2 = tf.split(b, [1, -1], axis=1)                                 # SPLIT_V   1x1x3x4, 1x6x3x4
    u = tf.unstack(p1, axis=2)                                            # UNPACK    5 x 1x6x2
    st = tf.stack([u[0], u[3], u[4], u[2], u[1]], axis=-2)                # PACK      1x6x5x2
    g = tf.gather(s2, [2, 0, 0, 1, 2], axis=-2)                           # GATHER    1x6x5x4
    h = tf.gather(tf.gather(s1, [0] * 6, axis=1), [1, 1, 0, 2, 2], axis=2)  # GATHER  1x6x5x4
    return tf.concat([st, g, h, p2], axis=-1)                             # 1x6x5x12


def movement_tflite() -> bytes:
    return convert(movement, [(1, 6, 5, 4)], seed=3)


def transpose_conv(x):
    """Two TRANSPOSE_CONVs from one [1, 4, 3, 3] input: stride 2 SAME with a bias and a fused
    RELU, then stride (1, 3) VALID without a bias (per-channel weights, fixed seed)."""
    import tensorflow as tf

    rng = np.random.default_rng(67)
    w1 = rng.normal(0, 1, (3, 2, 4, 3)).astype(np.float32)
    w2 = rng.normal(0, 1, (2, 3, 2, 4)).astype(np.float32) * np.float32([0.3, 2.0])[None, None, :, None]
    y = tf.nn.relu(tf.nn.conv2d_transpose(quantized(x), w1, (1, 8, 6, 4), (1, 2, 2, 1), "SAME")
                   + rng.normal(0, 1, 4).astype(np.float32))
    return tf.nn.conv2d_transpose(y, w2, (1, 9, 18, 2), (1, 1, 3, 1), "VALID")


def transpose_conv_tflite() -> bytes:
    return convert(transpose_conv, [(1, 4, 3, 3)], seed=4)


def transpose_conv_chain(seed: int):
    """(fn, input shape): a chain of three randomized TRANSPOSE_CONVs from one input (filter
    1-4, strides 1-3, SAME/VALID, 1-9 output channels so the C's groups of 4 leave 0-3 over,
    bias or none, fused RELU or none, per-channel scales 0.05-5), each layer's input zero
    point its own; one input and one output, as the board tests' runners take."""
    rng = np.random.default_rng(seed)
    shape = (1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 7)))
    layers, (h, w, c) = [], shape[1:]
    for _ in range(3):
        fh, fw = (int(v) for v in rng.integers(1, 5, size=2))
        sh, sw = (1 if h > 12 else int(rng.integers(1, 4)), 1 if w > 12 else int(rng.integers(1, 4)))
        pad = "SAME" if rng.random() < 0.5 else "VALID"
        oh, ow = (h * sh, w * sw) if pad == "SAME" else ((h - 1) * sh + max(fh, sh), (w - 1) * sw + max(fw, sw))
        oc = int(rng.integers(1, 10))
        wt = rng.normal(0, 1, (fh, fw, oc, c)) * np.exp(rng.uniform(-3, 1.6, size=oc))[None, None, :, None]
        bias = rng.normal(0, 2, oc).astype(np.float32) if rng.random() < 0.7 else None
        layers.append((wt.astype(np.float32), bias, (1, oh, ow, oc), (1, sh, sw, 1), pad, rng.random() < 0.4))
        h, w, c = oh, ow, oc

    def fn(x):
        import tensorflow as tf

        y = quantized(x)
        for wt, bias, oshape, strides, pad, relu in layers:
            y = tf.nn.conv2d_transpose(y, wt, oshape, strides, pad)
            if bias is not None:
                y = y + bias
            if relu:
                y = tf.nn.relu(y)
        return y

    return fn, shape


def transpose_conv_chain_tflite(seed: int) -> bytes:
    fn, shape = transpose_conv_chain(seed)
    return convert(fn, [shape], seed=seed)


def batch_matmul(x):
    """BATCH_MATMUL of two activations of one [2, 4, 6] input: x+x times relu(x) transposed,
    then the product (broadcast over a batch of 1) times x+x."""
    import tensorflow as tf

    a = quantized(x)
    p = tf.matmul(a, tf.nn.relu(x), transpose_b=True)          # 2x4x4
    return tf.matmul(p[:1], a)                                  # 1x4x4 @ 2x4x6 -> 2x4x6


def batch_matmul_chain(seed: int):
    """(fn, input shape): three BATCH_MATMULs of activations from one [2, 3, n, m] input
    (n 3-9, m 2-11: column counts that leave 0-3 over the C's groups of 4): x+x times relu(x)
    transposed (adj_y); a slice broadcast over each batch dimension in turn ([2, 1] against
    [1, 3]), with adj_x drawn; relu(x) transposed (adj_x) times that. One input, one output."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 10)), int(rng.integers(2, 12))
    adj = bool(rng.integers(0, 2))

    def fn(x):
        import tensorflow as tf

        a, b = quantized(x), tf.nn.relu(x)
        p = tf.matmul(a, b, transpose_b=True)                    # 2x3xnxn
        q = tf.matmul(p[:, :1], a[:1], transpose_a=adj)          # 2x1xnxn @ 1x3xnxm -> 2x3xnxm
        return tf.matmul(b, q, transpose_a=True)                 # 2x3xmxn @ 2x3xnxm -> 2x3xmxm

    return fn, (2, 3, n, m)


def batch_matmul_chain_tflite(seed: int) -> bytes:
    fn, shape = batch_matmul_chain(seed)
    return convert(fn, [shape], seed=seed)


def batch_matmul_single_tflite() -> bytes:
    """One BATCH_MATMUL and nothing else from one [2, 3, 9, 13] input: x times x transposed
    (adj_y; depth 13, 9 columns: two groups of 4 and one left over), for runners that load
    a single kernel level (qemu_mpy.level_runs). Both operands share a zero point; the
    chains above give them different ones."""
    import tensorflow as tf

    return convert(lambda x: tf.matmul(x, x, transpose_b=True), [(2, 3, 9, 13)], seed=9)


def batch_matmul_tflite() -> bytes:
    return convert(batch_matmul, [(2, 4, 6)], seed=6)
