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
    """The .tflite and edgeloop's model file, which must pass the board's full model check."""
    import io

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.validate import check

    tflite = convert(fn, shapes, seed)
    names = set(op_names(tflite))
    assert want_ops <= names, f"the converter no longer emits {want_ops - names}; ops are {sorted(names)}"
    blob = convert_tflite_bytes(tflite, "test").data
    check(io.BytesIO(blob))
    return tflite, blob


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


def nonempty(d, b, e, s):
    return len(range(*slice(b, e, s).indices(d))) > 0


def test_slice_matches_tflm():
    import tensorflow as tf

    rng = np.random.default_rng(65)
    cases = []
    for rank in (1, 2, 3, 4, 4, 2):
        s = shape(rng, rank, 2, 6)
        begin = [int(rng.integers(0, d)) for d in s]
        size = [int(rng.integers(1, d - b + 1)) if rng.random() < 0.7 else -1 for d, b in zip(s, begin)]
        cases.append((s, begin, size))

    def fn(*xs):
        return [tf.slice(quantized(x), b, n) for x, (_s, b, n) in zip(xs, cases)]

    tflite, blob = converted(fn, [c[0] for c in cases], {"SLICE"})
    assert_same_bytes(tflite, blob)


def strided_case(rng, rank):
    """A STRIDED_SLICE with out-of-range and negative bounds, negative strides and random masks,
    drawn until it selects something (Python's slice rules are TF's for one axis)."""
    while True:
        s = shape(rng, rank, 2, 7)
        begin, end, strides = [], [], []
        bmask = emask = shrink = 0
        for i, d in enumerate(s):
            if rng.random() < 0.2:
                shrink |= 1 << i
                begin.append(int(rng.integers(-d, d)))
                end.append(begin[-1] + 1)
                strides.append(1)
                continue
            begin.append(int(rng.integers(-d - 2, d + 2)))
            end.append(int(rng.integers(-d - 2, d + 2)))
            strides.append(int(rng.choice([-3, -2, -1, 1, 1, 2, 3])))
            bmask |= (1 << i) if rng.random() < 0.25 else 0
            emask |= (1 << i) if rng.random() < 0.25 else 0
        ok = all(shrink >> i & 1 or nonempty(d, None if bmask >> i & 1 else b, None if emask >> i & 1 else e, st)
                 for i, (d, b, e, st) in enumerate(zip(s, begin, end, strides)))
        if ok and shrink != (1 << rank) - 1:
            return s, dict(begin=begin, end=end, strides=strides, begin_mask=bmask, end_mask=emask,
                           shrink_axis_mask=shrink)


def test_strided_slice_matches_tflm():
    import tensorflow as tf

    rng = np.random.default_rng(45)
    cases = [strided_case(rng, rank) for rank in (1, 2, 3, 4, 4, 3, 2, 4)]

    def fn(*xs):
        out = [tf.strided_slice(quantized(x), **kw) for x, (_s, kw) in zip(xs, cases)]
        return out + [quantized(xs[-1])[..., 1:, ::-2]]  # an ellipsis, as Python indexing writes it

    tflite, blob = converted(fn, [c[0] for c in cases], {"STRIDED_SLICE"})
    assert_same_bytes(tflite, blob)


def test_split_split_v_and_unpack_match_tflm():
    import tensorflow as tf

    rng = np.random.default_rng(49)
    cases = []
    for kind, rank in [("split", 1), ("split", 3), ("split", 4), ("split_v", 2), ("split_v", 4),
                       ("unpack", 2), ("unpack", 3), ("unpack", 4)]:
        s = list(shape(rng, rank, 1, 4))
        axis = int(rng.integers(-rank, rank))
        n = int(rng.integers(2, 4))
        if kind == "split":
            s[axis] = n * int(rng.integers(1, 3))
        elif kind == "split_v":
            sizes = [int(v) for v in rng.integers(1, 4, size=n)]
            s[axis] = sum(sizes)
            sizes[int(rng.integers(0, n))] = -1
            n = sizes
        cases.append((kind, tuple(s), axis, n))

    def fn(*xs):
        out = []
        for x, (kind, _s, axis, n) in zip(xs, cases):
            x = quantized(x)
            out += tf.unstack(x, axis=axis) if kind == "unpack" else tf.split(x, n, axis=axis)
        return out

    tflite, blob = converted(fn, [c[1] for c in cases], {"SPLIT", "SPLIT_V", "UNPACK"})
    assert_same_bytes(tflite, blob)


def test_pack_matches_tflm():
    import tensorflow as tf

    rng = np.random.default_rng(83)
    cases = []
    for rank in (1, 2, 3, 3):
        s = shape(rng, rank, 1, 4)
        cases.append((s, int(rng.integers(-rank - 1, rank + 1)), int(rng.integers(2, 4))))

    def fn(*xs):
        out = []
        for x, (_s, axis, n) in zip(xs, cases):
            x = quantized(x)
            out.append(tf.stack([x] + [tf.nn.relu(x) if k % 2 else x + x for k in range(1, n)], axis=axis))
        return out

    tflite, blob = converted(fn, [c[0] for c in cases], {"PACK"})
    assert_same_bytes(tflite, blob)


def test_gather_matches_tflm():
    import tensorflow as tf

    rng = np.random.default_rng(36)
    cases = []
    for rank, irank in [(1, 1), (2, 1), (3, 2), (4, 1), (3, 0), (2, 2)]:
        s = shape(rng, rank, 2, 5)
        axis = int(rng.integers(-rank, rank))
        idx = rng.integers(0, s[axis], size=shape(rng, irank, 1, 4)).astype(np.int32)
        cases.append((s, axis, idx))

    def fn(*xs):
        return [tf.gather(quantized(x), i, axis=a) for x, (_s, a, i) in zip(xs, cases)]

    tflite, blob = converted(fn, [c[0] for c in cases], {"GATHER"})
    assert_same_bytes(tflite, blob)
