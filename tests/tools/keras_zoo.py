"""Small Keras models that, after full-int8 conversion, cover every op edgeloop runs.

Each builder fixes its seed, so a model (and its int8 flatbuffer) is the same
on every run. Shapes are deliberately odd (primes, non-square kernels,
strides that do not divide the input) because even shapes hide padding and
edge-of-window bugs. Inputs use `batch_size=1`: the converter then emits a
plain RESHAPE for Flatten instead of SHAPE/STRIDED_SLICE/PACK.

`OPS` records which TFLite ops each model is expected to contain after
conversion; the tests check it, so a converter upgrade that changes the
lowering shows up as a failed expectation, not as a silent coverage loss.
"""

from __future__ import annotations

import numpy as np


def _keras():
    import keras

    return keras, keras.layers


def _tf_keras():
    import pytest

    tf_keras = pytest.importorskip("tf_keras", reason="tf_keras is not installed (make setup installs it)")

    return tf_keras, tf_keras.layers


def dense_mlp():
    keras, L = _keras()
    inp = keras.Input((7,), batch_size=1)
    x = L.Dense(13, activation="relu")(inp)
    x = L.Dense(5, activation="tanh")(x)
    x = L.Dense(3)(x)
    return keras.Model(inp, L.Softmax()(x))


def conv1d():
    keras, L = _keras()
    inp = keras.Input((23, 3), batch_size=1)
    x = L.Conv1D(5, 4, strides=2, padding="same", activation="relu")(inp)
    x = L.Conv1D(4, 3, dilation_rate=2, padding="valid")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(3, activation="softmax")(x))


def conv2d():
    keras, L = _keras()
    inp = keras.Input((11, 9, 2), batch_size=1)
    x = L.Conv2D(6, (3, 2), strides=(2, 1), padding="same", activation="relu6")(inp)
    x = L.Conv2D(3, 3, dilation_rate=2, padding="valid")(x)
    x = L.Conv2D(4, (1, 3), strides=(1, 2), padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(2)(x))


def depthwise():
    keras, L = _keras()
    inp = keras.Input((10, 7, 3), batch_size=1)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="relu")(inp)
    x = L.DepthwiseConv2D((2, 3), dilation_rate=(2, 1), padding="valid")(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(4)(x))


def pooling():
    keras, L = _keras()
    inp = keras.Input((13, 11, 4), batch_size=1)
    x = L.Conv2D(5, 1)(inp)
    a = L.MaxPooling2D(3, strides=2, padding="same")(x)
    a = L.AveragePooling2D(2, strides=1, padding="valid")(a)
    b = L.AveragePooling2D((3, 2), strides=(2, 3), padding="same")(x)
    b = L.MaxPooling2D((2, 3), strides=(1, 2), padding="valid")(b)
    return keras.Model(inp, L.Concatenate()([L.Flatten()(a), L.Flatten()(b)]))


def global_pool():
    keras, L = _keras()
    inp = keras.Input((17, 5), batch_size=1)
    x = L.Conv1D(6, 3, padding="same", activation="relu")(inp)
    x = L.GlobalAveragePooling1D()(x)
    return keras.Model(inp, L.Dense(3, activation="sigmoid")(x))


def residual():
    keras, L = _keras()
    inp = keras.Input((9, 7, 3), batch_size=1)
    a = L.Conv2D(4, 3, padding="same")(inp)
    b = L.Conv2D(4, 1, activation="relu")(inp)
    x = L.ReLU()(L.Add()([a, b]))
    c = L.Concatenate(axis=-1)([x, a])
    y = L.DepthwiseConv2D(3, padding="same")(c)
    z = L.Add()([L.Conv2D(8, 1)(c), y])
    z = L.AveragePooling2D(2)(z)
    return keras.Model(inp, L.Softmax()(L.Dense(5)(L.Flatten()(z))))


def activations():
    """Standalone RELU/RELU6 only appear where nothing can absorb them: on the
    input, and after a CONCATENATION."""
    keras, L = _keras()
    inp = keras.Input((19,), batch_size=1)
    x = L.Dense(16)(L.ReLU()(inp))
    s = L.Activation("sigmoid")(L.Dense(9)(x))
    t = L.Activation("tanh")(L.Dense(8)(x))
    x = L.ReLU(max_value=6.0)(L.Concatenate()([L.Dense(5)(s), L.Dense(4)(t)]))
    return keras.Model(inp, L.Softmax()(L.Dense(6)(x)))


def conv1d_dynamic():
    """Converted with an unknown batch (see `DYNAMIC`): Conv1D keeps its
    EXPAND_DIMS, which a static batch folds into a RESHAPE."""
    keras, L = _keras()
    inp = keras.Input((12, 3))
    x = L.Conv1D(4, 3, padding="same", activation="relu")(inp)
    return keras.Model(inp, L.Conv1D(2, 5, strides=3)(x))


def reshape():
    keras, L = _keras()
    inp = keras.Input((30,), batch_size=1)
    x = L.Reshape((5, 6, 1))(inp)
    x = L.Conv2D(3, (2, 3), padding="valid", activation="relu")(x)
    x = L.Reshape((-1,))(x)
    return keras.Model(inp, L.Dense(4)(x))


def mixed_scales():
    """tanh (fixed scale 1/128) concatenated with a ReLU branch: the converter
    must requantize one side (QUANTIZE int8→int8) because TFLM's int8
    CONCATENATION insists on equal scales."""
    keras, L = _keras()
    inp = keras.Input((6, 5, 2), batch_size=1)
    a = L.Activation("tanh")(L.Conv2D(3, 2, padding="same")(inp))
    b = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = L.Concatenate()([a, b])
    x = L.MaxPooling2D(2, padding="same")(x)
    return keras.Model(inp, L.Dense(3)(L.Flatten()(x)))


def add_broadcast():
    """ADD of a feature map and a per-channel vector (1x1 spatial): TFLM's broadcast path."""
    keras, L = _keras()
    inp = keras.Input((5, 7, 3), batch_size=1)
    g = L.GlobalAveragePooling2D(keepdims=True)(L.Conv2D(3, 1)(inp))
    return keras.Model(inp, L.Add()([L.Conv2D(3, 3, padding="same")(inp), g]))


def permute():
    """Permute layers (TRANSPOSE) of rank 4 and 3, the latter as a PyTorch flatten after a
    convolution looks: channels moved ahead of the pixels."""
    keras, L = _keras()
    inp = keras.Input((5, 7, 3), batch_size=1)
    x = L.Conv2D(4, 2, padding="same")(inp)
    a = L.Permute((3, 1, 2))(x)
    a = L.Reshape((4, 35))(a)
    a = L.Permute((2, 1))(a)
    return keras.Model(inp, L.Dense(3)(L.Flatten()(a)))


def strided():
    """STRIDED_SLICE: steps, a negative begin, and an axis taken at one index (shrunk)."""
    keras, L = _keras()
    inp = keras.Input((11, 7, 3), batch_size=1)
    x = L.Conv2D(4, 2, padding="same")(inp)
    a = x[:, 1:9:3, -5::2, :]
    b = x[:, -1, :, 1:3]
    return keras.Model(inp, L.Concatenate()([L.Flatten()(a), L.Flatten()(b)]))


def lstm():
    """A gesture model: an LSTM over 20 steps of 6 features, its last state into Dense.
    Built with tf_keras (see `LEGACY`); Keras returns the last step, which the
    converter takes from the whole sequence with a STRIDED_SLICE."""
    keras, L = _tf_keras()
    inp = keras.Input((20, 6), batch_size=1)
    x = L.LSTM(12)(inp)
    return keras.Model(inp, L.Dense(4)(x))


def lstm_seq():
    """An LSTM returning every step (odd sizes: 9 steps, 5 features, 7 units), then a
    Dense per step."""
    keras, L = _tf_keras()
    inp = keras.Input((9, 5), batch_size=1)
    x = L.LSTM(7, return_sequences=True)(inp)
    return keras.Model(inp, L.Dense(3)(x))


def sigmoid_only():
    """LOGISTIC alone: int8 input covers all 256 codes in one inference."""
    keras, L = _keras()
    inp = keras.Input((256,), batch_size=1)
    return keras.Model(inp, L.Activation("sigmoid")(inp))


def tanh_only():
    keras, L = _keras()
    inp = keras.Input((256,), batch_size=1)
    return keras.Model(inp, L.Activation("tanh")(inp))


def leaky():
    """LEAKY_RELU between two dense layers."""
    keras, L = _keras()
    inp = keras.Input((8,), batch_size=1)
    x = L.Dense(6)(inp)
    x = L.LeakyReLU(negative_slope=0.1, name="leaky_layer")(x)
    return keras.Model(inp, L.Dense(2)(x))


def elementwise():
    """Keras's element-wise layers as the TFLite converter emits them: SUB, MUL, MAXIMUM,
    MINIMUM between branches, PReLU with per-channel alpha (broadcast over H and W), hard swish."""
    keras, L = _keras()
    inp = keras.Input((4, 5, 3), batch_size=1)
    a = L.Conv2D(3, 1)(inp)
    b = L.Conv2D(3, 3, padding="same")(inp)
    x = L.Multiply()([L.Subtract()([a, b]), a])
    x = L.Minimum()([L.Maximum()([x, b]), a])
    x = L.PReLU(shared_axes=[1, 2])(x)
    x = L.Activation("hard_swish")(x)
    return keras.Model(inp, L.Dense(3)(L.Flatten()(x)))


def mobilenet_block():
    """A MobileNetV3-style block as users build one: strided stem, hard swish, depthwise 3x3,
    hard swish, squeeze-and-excite (global pool, Dense relu, Dense hard_sigmoid, scale), pointwise,
    global pool, classifier. The converter lowers hard_sigmoid to a relu6 FULLY_CONNECTED and a MUL
    by 1/6; the excitation's MUL broadcasts a 1x1 per-channel vector over the feature map."""
    keras, L = _keras()
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = L.Activation("hard_swish")(L.Conv2D(8, 3, strides=2, padding="same")(inp))
    x = L.Activation("hard_swish")(L.DepthwiseConv2D(3, padding="same")(x))
    s = L.GlobalAveragePooling2D(keepdims=True)(x)
    s = L.Dense(8, activation="hard_sigmoid")(L.Dense(4, activation="relu")(s))
    x = L.Conv2D(16, 1)(L.Multiply()([x, s]))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(4, activation="softmax")(x))


def autoencoder():
    """A small convolutional autoencoder: two strided convolutions down (16 -> 8 -> 4), two
    strided transposed convolutions back up, sigmoid on the reconstruction. With non-zero biases
    the converter fuses the decoder's relu into its TRANSPOSE_CONV (a bias-free one keeps a
    standalone RELU)."""
    keras, L = _keras()
    inp = keras.Input((16, 16, 1), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    return keras.Model(inp, L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")(x))


def unsupported():
    """ELU is not an edgeloop op: conversion must name it and its layer."""
    keras, L = _keras()
    inp = keras.Input((8,), batch_size=1)
    x = L.Dense(6)(inp)
    x = L.Activation("elu", name="elu_layer")(x)
    return keras.Model(inp, L.Dense(2)(x))


ZOO = {
    "dense_mlp": dense_mlp, "conv1d": conv1d, "conv2d": conv2d, "depthwise": depthwise,
    "pooling": pooling, "global_pool": global_pool, "residual": residual,
    "activations": activations, "reshape": reshape, "mixed_scales": mixed_scales,
    "sigmoid_only": sigmoid_only, "tanh_only": tanh_only, "conv1d_dynamic": conv1d_dynamic,
    "add_broadcast": add_broadcast, "permute": permute, "leaky": leaky, "elementwise": elementwise,
    "lstm": lstm, "lstm_seq": lstm_seq, "strided": strided,
    "mobilenet_block": mobilenet_block, "autoencoder": autoencoder,
}
# Built with an unknown batch and converted without edgeloop's batch pinning.
DYNAMIC = {"conv1d_dynamic"}
# Built with tf_keras (Keras 2) and converted by the plain converter: Keras 3 lowers LSTM to a
# WHILE loop (the calibrator crashes on it), Keras 2's LSTM is fused to UNIDIRECTIONAL_SEQUENCE_LSTM.
LEGACY = {"lstm", "lstm_seq"}

# Ops each model must contain after conversion (a subset check).
OPS = {
    "dense_mlp": {"FULLY_CONNECTED", "TANH", "SOFTMAX"},
    "conv1d": {"CONV_2D", "RESHAPE", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "conv2d": {"CONV_2D", "MEAN", "FULLY_CONNECTED"},
    "depthwise": {"DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED"},
    "pooling": {"MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION", "RESHAPE"},
    "global_pool": {"MEAN", "LOGISTIC"},
    "residual": {"ADD", "CONCATENATION", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "SOFTMAX"},
    "activations": {"RELU", "RELU6", "FULLY_CONNECTED", "LOGISTIC", "TANH", "CONCATENATION", "SOFTMAX"},
    "conv1d_dynamic": {"EXPAND_DIMS", "CONV_2D", "RESHAPE"},
    "reshape": {"RESHAPE", "CONV_2D", "FULLY_CONNECTED"},
    "mixed_scales": {"TANH", "QUANTIZE", "CONCATENATION", "MAX_POOL_2D"},
    "add_broadcast": {"CONV_2D", "MEAN", "ADD"},
    "sigmoid_only": {"LOGISTIC"},
    "tanh_only": {"TANH"},
    "permute": {"CONV_2D", "TRANSPOSE", "RESHAPE", "FULLY_CONNECTED"},
    "leaky": {"FULLY_CONNECTED", "LEAKY_RELU"},
    "elementwise": {"SUB", "MUL", "MAXIMUM", "MINIMUM", "PRELU", "HARD_SWISH"},
    "lstm": {"UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "FULLY_CONNECTED"},
    "lstm_seq": {"UNIDIRECTIONAL_SEQUENCE_LSTM", "FULLY_CONNECTED"},
    "strided": {"CONV_2D", "STRIDED_SLICE", "CONCATENATION"},
    "mobilenet_block": {"CONV_2D", "HARD_SWISH", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED", "MUL", "SOFTMAX"},
    "autoencoder": {"CONV_2D", "TRANSPOSE_CONV", "LOGISTIC"},
}

SEED = 20261122


def build(name: str):
    keras = _tf_keras()[0] if name in LEGACY else _keras()[0]
    keras.utils.set_random_seed(SEED)
    builder = ZOO.get(name) or {"unsupported": unsupported}[name]
    model = builder()
    # Random init leaves biases at zero, which hides bias bugs: give every
    # bias a fixed non-zero value, and spread the weights a little.
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        for w in layer.weights:
            if "bias" in getattr(w, "path", w.name):
                w.assign(rng.normal(0, 0.3, w.shape).astype("float32"))
    return model


def calibration(model, n: int = 24, seed: int = 7) -> np.ndarray:
    """Float samples shaped like the model's input; the spread differs per
    feature so per-channel scales are not all alike."""
    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(seed)
    spread = 0.5 + rng.random(shape[-1:]).astype(np.float32) * 2
    return (rng.normal(0, 1, (n,) + shape) * spread).astype(np.float32)


def to_tflite(name: str, workdir) -> bytes:
    """Save the model as a user would (.keras) and convert it through edgeloop;
    models in DYNAMIC (with their unknown batch) and LEGACY go through the plain converter."""
    from pathlib import Path

    from edgeloop.convert.keras import convert_keras

    model = build(name)
    x = calibration(model)
    if name in DYNAMIC or name in LEGACY:
        import tensorflow as tf

        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
        return bytes(conv.convert())
    path = Path(workdir) / f"{name}.keras"
    model.save(path)
    return convert_keras(path, x).tflite


def int8_inputs(name: str, scale: float, zero_point: int, n_random: int = 3) -> list[np.ndarray]:
    """Quantized calibration samples (what the model sees in use), full-range
    random codes (every rounding and saturation path), and the two extremes."""
    model = build(name)
    x = calibration(model, n=3, seed=99)
    q = np.clip(np.floor(x / scale + 0.5) + zero_point, -128, 127).astype(np.int8)
    shape = (1,) + tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(5)
    out = [q[i:i + 1] for i in range(len(q))]
    out += [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(n_random)]
    out += [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
    return out
