"""BATCH_MATMUL (int8, two activations) under edgeloop's runtime (CPython) vs TensorFlow Lite
Micro: identical output bytes, over randomized ranks 3-4, adj_x/adj_y and broadcast batches.

Each operand is one ADD away from a model input, so both have zero points of their own.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.tools.tf_op_models import assert_same_bytes, convert, op_names, quantized

pytestmark = pytest.mark.tf


def test_batch_matmul_matches_tflm():
    import tensorflow as tf

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.validate import check

    rng = np.random.default_rng(126)
    cases = []
    for rank, bcast in [(3, None), (3, "lhs"), (4, None), (4, "rhs"), (4, "mixed"), (3, None)]:
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
        cases.append((la, ra, adj_x, adj_y))

    def fn(*xs):
        return [tf.matmul(quantized(a), quantized(b), transpose_a=ax, transpose_b=ay)
                for a, b, (_la, _ra, ax, ay) in zip(xs[0::2], xs[1::2], cases)]

    shapes = [s for la, ra, _x, _y in cases for s in (la, ra)]
    tflite = convert(fn, shapes, seed=126)
    names = op_names(tflite)
    assert names.count("BATCH_MATMUL") == len(cases), names
    blob = convert_tflite_bytes(tflite, "test").data
    check(io.BytesIO(blob))
    assert_same_bytes(tflite, blob)
