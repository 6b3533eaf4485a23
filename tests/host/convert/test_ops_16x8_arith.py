"""int16 SUB, MUL and LEAKY_RELU (TFLM's 16x8 mode) under edgeloop's runtime vs TensorFlow Lite
Micro: identical bytes. Each model is the TFLite converter's own 16x8 quantization of a random
Keras model (random weights, input spread by a random power of ten, so the rescale multipliers
and shifts differ per case): two activations of different scales, one broadcast over the other,
and one a constant; LEAKY_RELU on every int16 code.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.host.convert.test_ops_16x8 import assert_identical, tflm
from tests.tools.models_16x8 import int16_inputs, randomize, to_16x8
from tests.tools.runtime_helpers import edgeloop_interpreter, tflm_run

pytestmark = pytest.mark.tf

SEED = 20261207
SHAPES = ["same", "broadcast", "constant"]


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")


def binary_model(op: str, shape: str, rng):
    """`op` ("sub" or "mul") of two 1x1-convolution branches of different scales; `shape`:
    both full size, the second averaged to one value per channel (broadcast over H and W),
    or the model's input and a constant per channel."""
    import keras
    from keras import layers as L

    h, w, c = int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 5))
    inp = keras.Input((h, w, c), batch_size=1)
    a = L.Conv2D(c, 1)(inp)
    b = L.Conv2D(c, 1, kernel_initializer=keras.initializers.RandomNormal(0, float(rng.uniform(0.2, 3))))(inp)
    if shape == "broadcast":
        b = L.GlobalAveragePooling2D(keepdims=True)(b)
    elif shape == "constant":  # of the model's input: a constant after a convolution folds into it
        a, b = inp, rng.normal(0, float(rng.uniform(0.5, 4)), (1, 1, 1, c)).astype(np.float32)
    fn = keras.ops.subtract if op == "sub" else keras.ops.multiply
    y = fn(a, b) if rng.random() < 0.5 or shape == "constant" else fn(b, a)
    return keras.Model(inp, y)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", ["sub", "mul"])
@pytest.mark.parametrize("n", range(3))
def test_random_16x8_sub_and_mul_match_tflm(tf, op, shape, n):
    import keras

    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, 41, op == "mul", SHAPES.index(shape), n])
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    model = binary_model(op, shape, rng)
    randomize(model, rng)
    in_shape = (1,) + tuple(model.inputs[0].shape[1:])
    x = (rng.normal(0, 1, (16,) + in_shape[1:]) * 10.0 ** rng.uniform(-1.5, 1.5)).astype(np.float32)
    tflite = to_16x8(tf, model, x)
    converted = convert_tflite_bytes(tflite, op)
    assert op.upper() in {o.name for o in converted.ops}
    t = edgeloop_interpreter(converted.data).model.inputs[0]
    outs = assert_identical(tflite, converted.data, int16_inputs(in_shape, t.scale, x, rng))
    assert len(outs) > 2, "the same output for every input: the comparison proves nothing"


@pytest.mark.parametrize("n", range(4))
def test_int16_leaky_relu_matches_tflm_on_every_input_code(tf, n):
    """A standalone LEAKY_RELU of random alpha (0..1, and above 1 once) and input scale; the
    input holds every int16 code once."""
    import keras
    from keras import layers as L

    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, 98, n])
    alpha = float(rng.uniform(1, 3)) if n == 3 else float(rng.uniform(0, 1))
    inp = keras.Input((65536,), batch_size=1)
    x = (rng.normal(0, 1, (8, 65536)) * 10.0 ** rng.uniform(-1, 1.5)).astype(np.float32)
    tflite = to_16x8(tf, keras.Model(inp, L.LeakyReLU(negative_slope=alpha)(inp)), x)
    converted = convert_tflite_bytes(tflite, "leaky_relu")
    assert [o.name for o in converted.ops] == ["LEAKY_RELU"]
    codes = np.arange(-32768, 32768).astype(np.int16).reshape(1, -1)
    ours, ref = edgeloop_interpreter(converted.data), tflm(tflite, arena_size=1 << 20)
    want = tflm_run(ref, codes)
    ours.set_input(codes.tobytes())
    ours.invoke()
    got = np.frombuffer(ours.get_output(), np.int16).reshape(want.shape)
    assert len(np.unique(want)) > 100
    diff = np.flatnonzero(got != want)
    assert diff.size == 0, f"{diff.size} codes differ, first {codes[0, diff[:5]]}: {got[0, diff[:5]]} vs {want[0, diff[:5]]}"


@pytest.mark.parametrize("n", range(6))
def test_random_16x8_transpose_conv_matches_tflm(tf, n):
    """Conv2DTranspose of random geometry (stride 1..3, filters 1..4, same/valid padding, a fused
    ReLU or none), random weights and biases, input scale spread by a random power of ten."""
    import keras
    from keras import layers as L

    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, 67, n])
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    h, w, c = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
    inp = keras.Input((h, w, c), batch_size=1)
    layer = L.Conv2DTranspose(int(rng.integers(1, 5)), (int(rng.integers(1, 5)), int(rng.integers(1, 5))),
                              strides=(int(rng.integers(1, 4)), int(rng.integers(1, 4))),
                              padding=["same", "valid"][n % 2], activation=[None, "relu"][n // 2 % 2])
    model = keras.Model(inp, layer(inp))
    randomize(model, rng)
    x = (rng.normal(0, 1, (16, h, w, c)) * 10.0 ** rng.uniform(-1.5, 1.5)).astype(np.float32)
    tflite = to_16x8(tf, model, x)
    converted = convert_tflite_bytes(tflite, "transpose_conv")
    assert "TRANSPOSE_CONV" in {o.name for o in converted.ops}
    t = edgeloop_interpreter(converted.data).model.inputs[0]
    outs = assert_identical(tflite, converted.data, int16_inputs((1, h, w, c), t.scale, x, rng))
    assert len(outs) > 2, "the same output for every input: the comparison proves nothing"


def matmul_16x8(tf, la, ra, adj_x, adj_y, rng) -> bytes:
    """The converter's 16x8 .tflite of one tf.matmul of two model inputs (spread differently)."""
    specs = [tf.TensorSpec(la, tf.float32, name="in0"), tf.TensorSpec(ra, tf.float32, name="in1")]
    module = tf.Module()
    module.f = tf.function(lambda a, b: tf.matmul(a, b, transpose_a=adj_x, transpose_b=adj_y),
                           input_signature=specs)
    spread = [10.0 ** rng.uniform(-1.5, 1.5) for _ in range(2)]

    def representative():
        for _ in range(12):
            yield {"in0": (rng.normal(0, 1, la) * spread[0]).astype(np.float32),
                   "in1": (rng.normal(0, 1, ra) * spread[1]).astype(np.float32)}

    conv = tf.lite.TFLiteConverter.from_concrete_functions([module.f.get_concrete_function()], module)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int16
    return bytes(conv.convert())


# rank 2 is not here: the converter makes that a FULLY_CONNECTED
BMM_CASES = [(3, None), (3, "lhs"), (4, None), (4, "rhs"), (4, "mixed"), (3, "rhs")]


@pytest.mark.parametrize("rank,bcast", BMM_CASES)
def test_random_16x8_batch_matmul_matches_tflm(tf, rank, bcast):
    """tf.matmul of two int16 activations: ranks 3-4, random adj_x/adj_y, broadcast batches;
    calibrated, full-range random and extreme codes."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, 126, BMM_CASES.index((rank, bcast))])
    batch = [int(v) for v in rng.integers(2, 4, size=rank - 2)]
    r, k, c = (int(v) for v in rng.integers(1, 7, size=3))
    adj_x, adj_y = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    lb, rb = list(batch), list(batch)
    if bcast == "lhs":
        lb[-1] = 1
    elif bcast == "rhs":
        rb[0] = 1
    elif bcast == "mixed":
        lb[0], rb[-1] = 1, 1
    la = tuple(lb) + ((k, r) if adj_x else (r, k))
    ra = tuple(rb) + ((c, k) if adj_y else (k, c))
    tflite = matmul_16x8(tf, la, ra, adj_x, adj_y, rng)
    converted = convert_tflite_bytes(tflite, "batch_matmul")
    assert [o.name for o in converted.ops] == ["BATCH_MATMUL"]
    ours, ref = edgeloop_interpreter(converted.data), tflm(tflite)
    ins = ours.model.inputs
    shapes = [tuple(t.shape) for t in ins]
    outs = set()
    for kind in range(4):
        xs = [(rng.integers(-32768, 32768, size=s) if kind == 0 else
               np.clip(np.round(rng.normal(0, 0.3, s) * 32767), -32768, 32767) if kind == 1 else
               np.full(s, [-32768, 32767][kind - 2])).astype(np.int16) for s in shapes]
        ref.reset()
        for i, x in enumerate(xs):
            ref.set_input(x, i)
        ref.invoke()
        want = ref.get_output(0).copy()
        for i, x in enumerate(xs):
            ours.set_input(x.tobytes(), i)
        ours.invoke()
        got = np.frombuffer(ours.get_output(), np.int16).reshape(want.shape)
        assert np.array_equal(got, want), f"inputs #{kind}: edgeloop {got.ravel()[:8]} vs TFLM {want.ravel()[:8]}"
        outs.add(want.tobytes())
    assert len(outs) > 2
