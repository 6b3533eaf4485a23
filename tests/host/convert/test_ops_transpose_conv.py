"""TRANSPOSE_CONV (int8, per-channel weights, with and without bias) under edgeloop's runtime
(CPython) vs TensorFlow Lite Micro: identical output bytes.

One tf.function holds several randomized cases (strides 1-3, SAME and VALID, odd filter
and input sizes, a fused RELU); the input is one ADD away from the model input so its
zero point is not the model's, and a case without bias checks the optional input.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools.tf_op_models import assert_same_bytes, convert, op_names, quantized

pytestmark = pytest.mark.tf


def test_transpose_conv_matches_tflm():
    import io

    import tensorflow as tf

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.validate import check

    rng = np.random.default_rng(67)
    cases = []
    for k, (pad, relu, bias) in enumerate([("SAME", False, True), ("VALID", False, True), ("SAME", True, True),
                                            ("VALID", False, False), ("SAME", False, False), ("VALID", True, True)]):
        n = 1
        ih, iw, ic = (int(v) for v in rng.integers(1, 6, size=3))
        oc = int(rng.integers(1, 5))
        fh, fw = (int(v) for v in rng.integers(1, 5, size=2))
        sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
        if pad == "SAME":
            oh, ow = ih * sh, iw * sw
        else:
            oh, ow = (ih - 1) * sh + max(fh, sh), (iw - 1) * sw + max(fw, sw)
        w = rng.normal(0, 1, (fh, fw, oc, ic)) * rng.uniform(0.2, 2, size=oc)[None, None, :, None]
        b = rng.normal(0, 2, oc) if bias else None
        cases.append(((n, ih, iw, ic), w.astype(np.float32), None if b is None else b.astype(np.float32),
                      (n, oh, ow, oc), (sh, sw), pad, relu))

    def fn(*xs):
        out = []
        for x, (_s, w, b, oshape, st, pad, relu) in zip(xs, cases):
            y = tf.nn.conv2d_transpose(quantized(x), w, oshape, (1, *st, 1), padding=pad)
            if b is not None:
                y = y + b
            out.append(tf.nn.relu(y) if relu else y)
        return out

    tflite = convert(fn, [c[0] for c in cases], seed=67)
    names = op_names(tflite)
    assert names.count("TRANSPOSE_CONV") == len(cases), names
    blob = convert_tflite_bytes(tflite, "test").data
    check(io.BytesIO(blob))
    assert_same_bytes(tflite, blob)
