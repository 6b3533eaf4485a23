"""Data-movement ops (PAD, PADV2, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, PACK, UNPACK, GATHER)
under edgeloop's runtime (CPython) vs TensorFlow Lite Micro: identical output bytes.

Each test converts one tf.function holding several randomized cases of its op
(ranks 1-4, odd shapes, negative axes), one input and output per case, and
feeds full-range random int8 codes. The cases are drawn from a fixed seed so
a failure reproduces.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools.tf_op_models import assert_same_bytes, convert, op_names, quantized

pytestmark = pytest.mark.tf


def shape(rng, rank, lo=1, hi=5):
    return tuple(int(v) for v in rng.integers(lo, hi + 1, size=rank))


def converted(fn, shapes, want_ops, seed=0):
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite = convert(fn, shapes, seed)
    names = set(op_names(tflite))
    assert want_ops <= names, f"the converter no longer emits {want_ops - names}; ops are {sorted(names)}"
    return tflite, convert_tflite_bytes(tflite, "test").data


def test_pad_and_padv2_match_tflm():
    import tensorflow as tf

    rng = np.random.default_rng(34)
    cases = []
    for rank in (1, 2, 3, 4, 4, 3):
        s = shape(rng, rank)
        pads = [[int(a), int(b)] for a, b in rng.integers(0, 3, size=(rank, 2))]
        cases.append((s, pads, None))
    for rank in (2, 4):
        s = shape(rng, rank)
        pads = [[int(a), int(b)] for a, b in rng.integers(0, 3, size=(rank, 2))]
        cases.append((s, pads, float(rng.uniform(-1, 1))))

    def fn(*xs):
        return [tf.pad(quantized(x), p, constant_values=v) if v is not None else tf.pad(quantized(x), p)
                for x, (_s, p, v) in zip(xs, cases)]

    tflite, blob = converted(fn, [c[0] for c in cases], {"PAD", "PADV2"})
    assert_same_bytes(tflite, blob)
