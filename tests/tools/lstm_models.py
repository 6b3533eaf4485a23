"""Random Keras LSTMs converted to full int8, for the LSTM tests on the host and the boards.

Built with tf_keras: its LSTM is what the TFLite converter fuses into one
UNIDIRECTIONAL_SEQUENCE_LSTM (Keras 3's becomes a WHILE loop). Every bias is
non-zero (a bias bug would hide behind Keras' zeros) and the calibration
spread differs per feature.
"""

from __future__ import annotations

import numpy as np
import pytest

# (time steps, features, units, seed, every step or the last): odd sizes, one unit, more units
# than features. Keras' last state is the whole sequence and a STRIDED_SLICE after conversion.
SHAPES = [(9, 5, 7, 1, True), (1, 3, 1, 2, True), (16, 2, 13, 3, False), (6, 11, 4, 4, False), (20, 6, 12, 5, False)]


def convert(steps: int, feats: int, units: int, seed: int, sequences: bool = True) -> tuple[bytes, np.ndarray]:
    """(int8 .tflite, the float calibration samples)."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    keras = pytest.importorskip("tf_keras", reason="tf_keras is not installed (make setup installs it)")
    keras.utils.set_random_seed(seed)
    inp = keras.Input((steps, feats), batch_size=1)
    model = keras.Model(inp, keras.layers.LSTM(units, return_sequences=sequences)(inp))
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "bias" in w.name:
            w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
    x = (rng.normal(0, 1, (24, steps, feats)) * (0.5 + 2 * rng.random(feats))).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    return bytes(conv.convert()), x


def inputs(scale: float, zero_point: int, x: np.ndarray, seed: int) -> list[np.ndarray]:
    """Calibration-like samples, full-range random codes, and both extremes."""
    q = np.clip(np.floor(x[:3] / scale + 0.5) + zero_point, -128, 127).astype(np.int8)
    rng = np.random.default_rng(seed + 100)
    shape = (1,) + x.shape[1:]
    return ([q[i:i + 1] for i in range(3)] + [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(3)]
            + [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)])


def with_cell_clip(tflite: bytes, clip: float) -> bytes:
    """The model with the LSTM's cell_clip option rewritten (Keras' 10.0 never binds in int16)."""
    import flatbuffers

    from tests.tools.op_models import schema

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    for op in model.subgraphs[0].operators:
        if model.operatorCodes[op.opcodeIndex].builtinCode == s.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
            op.builtinOptions.cellClip = clip
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def to_16x8(tflite: bytes, bias64: bool = True) -> bytes:
    """The int8 LSTM model rebuilt by hand in TFLM's 16x8 form, which TFLite's converter refuses to
    make: every int8 activation (input, hidden state, output, and a last-step STRIDED_SLICE's
    output) int16 at zero point 0 and 1/256 of its int8 scale, int64 biases (int32 ones kept
    when not `bias64`), the int8 weights and int16 cell kept."""
    import flatbuffers

    from tests.tools.op_models import schema

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    sub = model.subgraphs[0]
    (op,) = [o for o in sub.operators
             if model.operatorCodes[o.opcodeIndex].builtinCode == s.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM]
    weights = set(op.inputs[1:9])
    for i, t in enumerate(sub.tensors):
        if t.type == s.TensorType.INT8 and i not in weights:
            t.type = s.TensorType.INT16
            t.quantization.scale, t.quantization.zeroPoint = [float(t.quantization.scale[0]) / 256], [0]
    for i in op.inputs[12:16] if bias64 else ():
        t, buf = sub.tensors[i], model.buffers[sub.tensors[i].buffer]
        buf.data = list(np.frombuffer(bytes(bytearray(buf.data)), np.int32).astype("<i8").tobytes())
        t.type = s.TensorType.INT64
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def reference(steps: int, feats: int, units: int, seed: int, sequences: bool = True):
    """(int8 .tflite, TFLM's interpreter of it, the inputs of `inputs` at its input scale): what
    every LSTM test against TFLM starts from."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    tflite, x = convert(steps, feats, units, seed, sequences)
    ref = runtime.Interpreter.from_bytes(tflite)
    q = ref.get_input_details(0)["quantization_parameters"]
    return tflite, ref, inputs(float(q["scales"][0]), int(q["zero_points"][0]), x, seed)
