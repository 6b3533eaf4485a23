"""Data-movement ops (PAD, PADV2, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, PACK, UNPACK, GATHER, TRANSPOSE)
under edgeloop's runtime (CPython) vs TensorFlow Lite Micro: identical output bytes.

Each test converts one tf.function holding several randomized cases of its op
(ranks 1-4, odd shapes, negative axes), one input and output per case, and
feeds full-range random int8 codes. The cases are drawn from a fixed seed so
a failure reproduces. Each op (and TRANSPOSE) runs again in the converter's
16x8 mode (int16 activations, full-range int16 codes; other cases from another
seed); 16x8 PADV2, whose converter-made constant TFLM refuses, from a
schema-built model with an int16 constant.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools.tf_op_models import assert_same_bytes, convert, op_names, quantized

pytestmark = pytest.mark.tf


def shape(rng, rank, lo=1, hi=5, int16=False):
    """A random shape; a rank-4 one in 16x8 mode has batch 1, as the converter's Keras models do
    (edgeloop's int16 strided copies take three axes that are not one run: ops/common.py)."""
    if int16 and rank == 4:
        return (1,) + shape(rng, 3, lo, hi)
    return tuple(int(v) for v in rng.integers(lo, hi + 1, size=rank))


def converted(fn, shapes, want_ops, seed=0, int16=False):
    """The .tflite and edgeloop's model file, which must pass the board's full model check; with
    `int16` both are TFLM's 16x8 mode, and the op under test must have int16 tensors."""
    import io

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.validate import check

    tflite = convert(fn, shapes, seed, int16=int16)
    names = set(op_names(tflite))
    if int16:
        from edgeloop.convert.tflite import read_tflite
        m = read_tflite(tflite)
        wide = {op.name for op in m.operators
                if any(m.tensors[t].dtype == "int16" for t in [*op.inputs, *op.outputs] if t >= 0)}
        assert want_ops <= wide, f"{want_ops - wide} not in 16x8 mode"
    assert want_ops <= names, f"the converter no longer emits {want_ops - names}; ops are {sorted(names)}"
    blob = convert_tflite_bytes(tflite, "test").data
    check(io.BytesIO(blob))
    return tflite, blob


MODES = pytest.mark.parametrize("int16", [False, True], ids=["int8", "16x8"])


@MODES
def test_pad_and_padv2_match_tflm(int16):
    import tensorflow as tf

    rng = np.random.default_rng(34 + 1000 * int16)
    cases = []
    for rank in (1, 2, 3, 4, 4, 3):
        s = shape(rng, rank, 1, 5, int16=int16)
        pads = [[int(a), int(b)] for a, b in rng.integers(0, 3, size=(rank, 2))]
        cases.append((s, pads, None))
    for rank in () if int16 else (2, 4):  # 16x8 PADV2: test_int16_padv2_matches_tflm
        s = shape(rng, rank, 1, 5, int16=int16)
        pads = [[int(a), int(b)] for a, b in rng.integers(0, 3, size=(rank, 2))]
        cases.append((s, pads, float(rng.uniform(-1, 1))))

    def fn(*xs):
        return [tf.pad(quantized(x), p, constant_values=v) if v is not None else tf.pad(quantized(x), p)
                for x, (_s, p, v) in zip(xs, cases)]

    tflite, blob = converted(fn, [c[0] for c in cases], {"PAD"} if int16 else {"PAD", "PADV2"}, int16=int16)
    assert_same_bytes(tflite, blob)


@pytest.mark.parametrize("n", range(3))
def test_int16_padv2_matches_tflm(n):
    """PADV2 on int16 values with an int16 constant (TFLM's int16 PADV2; the schema-built model
    chooses the value, so both of its bytes differ and a low/high byte swap shows)."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools.op_models import T, Op, build
    from tests.tools.tf_op_models import assert_same_bytes

    rng = np.random.default_rng([60, n])
    rank = int(rng.integers(1, 5))
    s = shape(rng, rank, 1, 5, int16=True)
    pads = rng.integers(0, 3, size=(rank, 2)).astype(np.int32)
    value = int(rng.integers(-32768, 32768))
    scale, zp = float(10.0 ** rng.uniform(-4, -1)), int(rng.integers(-5, 6))
    y = tuple(int(d + a + b) for d, (a, b) in zip(s, pads))
    tflite = build([T("x", s, "int16", scale, zp), T("p", pads.shape, "int32", data=pads),
                    T("c", (1,), "int16", scale, zp, data=np.array([value], np.int16)),
                    T("y", y, "int16", scale, zp)], [Op(60, ["x", "p", "c"], ["y"])], ["x"], ["y"])
    assert_same_bytes(tflite, convert_tflite_bytes(tflite, "padv2").data)


def test_the_converters_16x8_padv2_is_refused_as_tflm_refuses_it():
    """The TFLite converter's 16x8 mode leaves PADV2's constant in float32, which TFLM's
    int16 PADV2 refuses (input and constant types differ); edgeloop says so at convert time."""
    import tensorflow as tf

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.errors import ConversionError
    from tests.tools.tf_op_models import tflm_interpreter

    tflite = convert(lambda x: [tf.pad(quantized(x), [[1, 0], [0, 2]], constant_values=0.5)], [(2, 3)],
                     int16=True)
    with pytest.raises(RuntimeError):
        tflm_interpreter(tflite)
    with pytest.raises(ConversionError, match="PADV2 .*the constant value is float32, the input int16"):
        convert_tflite_bytes(tflite, "padv2")


def nonempty(d, b, e, s):
    return len(range(*slice(b, e, s).indices(d))) > 0


@MODES
def test_slice_matches_tflm(int16):
    import tensorflow as tf

    rng = np.random.default_rng(65 + 1000 * int16)
    cases = []
    for rank in (1, 2, 3, 4, 4, 2):
        s = shape(rng, rank, 2, 6, int16=int16)
        begin = [int(rng.integers(0, d)) for d in s]
        size = [int(rng.integers(1, d - b + 1)) if rng.random() < 0.7 else -1 for d, b in zip(s, begin)]
        cases.append((s, begin, size))

    def fn(*xs):
        return [tf.slice(quantized(x), b, n) for x, (_s, b, n) in zip(xs, cases)]

    tflite, blob = converted(fn, [c[0] for c in cases], {"SLICE"}, int16=int16)
    assert_same_bytes(tflite, blob)


def strided_case(rng, rank, int16):
    """A STRIDED_SLICE with out-of-range and negative bounds, negative strides and random masks,
    drawn until it selects something (Python's slice rules are TF's for one axis)."""
    while True:
        s = shape(rng, rank, 2, 7, int16=int16)
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


@MODES
def test_strided_slice_matches_tflm(int16):
    import tensorflow as tf

    rng = np.random.default_rng(45 + 1000 * int16)
    cases = [strided_case(rng, rank, int16) for rank in (1, 2, 3, 4, 4, 3, 2, 4)]

    def fn(*xs):
        out = [tf.strided_slice(quantized(x), **kw) for x, (_s, kw) in zip(xs, cases)]
        return out + [quantized(xs[-1])[..., 1:, ::-2]]  # an ellipsis, as Python indexing writes it

    tflite, blob = converted(fn, [c[0] for c in cases], {"STRIDED_SLICE"}, int16=int16)
    assert_same_bytes(tflite, blob)


@MODES
def test_split_split_v_and_unpack_match_tflm(int16):
    import tensorflow as tf

    rng = np.random.default_rng(49 + 1000 * int16)
    cases = []
    for kind, rank in [("split", 1), ("split", 3), ("split", 4), ("split_v", 2), ("split_v", 4),
                       ("unpack", 2), ("unpack", 3), ("unpack", 4)]:
        s = list(shape(rng, rank, 1, 4, int16=int16))
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

    tflite, blob = converted(fn, [c[1] for c in cases], {"SPLIT", "SPLIT_V", "UNPACK"}, int16=int16)
    assert_same_bytes(tflite, blob)


@MODES
def test_pack_matches_tflm(int16):
    import tensorflow as tf

    rng = np.random.default_rng(83 + 1000 * int16)
    cases = []
    for rank in (1, 2, 3, 3):
        s = shape(rng, rank, 1, 4, int16=int16)
        cases.append((s, int(rng.integers(-rank - 1, rank + 1)), int(rng.integers(2, 4))))

    def fn(*xs):
        out = []
        for x, (_s, axis, n) in zip(xs, cases):
            x = quantized(x)
            odd = (lambda v: v + v + v) if int16 else tf.nn.relu  # 16x8: a RELU of a degenerate scale here
            out.append(tf.stack([x] + [odd(x) if k % 2 else x + x for k in range(1, n)], axis=axis))
        return out

    tflite, blob = converted(fn, [c[0] for c in cases], {"PACK"}, int16=int16)
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


@MODES
def test_transpose_matches_tflm(int16):
    """Random permutations of ranks 2-4 (in 16x8 mode a rank-4 input of batch 1 too, whose
    value axes then take all three of the strided copy's axes)."""
    import tensorflow as tf

    rng = np.random.default_rng(39 + 1000 * int16)
    cases = []
    for rank in (2, 3, 3, 4, 4, 4):
        s = shape(rng, rank, 2, 5, int16=int16)
        cases.append((s, [int(v) for v in rng.permutation(rank)]))

    def fn(*xs):
        return [tf.transpose(quantized(x), p) for x, (_s, p) in zip(xs, cases)]

    tflite, blob = converted(fn, [c[0] for c in cases], {"TRANSPOSE"}, int16=int16)
    assert_same_bytes(tflite, blob)


def test_an_int16_transpose_over_four_real_axes_is_refused_in_one_line():
    """TFLM runs it; edgeloop's strided copy has room for three int16 axes, so it says which
    shape to change instead of guessing."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.errors import ConversionError
    from tests.tools.op_models import T, Op, build

    tflite = build([T("x", (2, 3, 4, 5), "int16", 0.01), T("p", (4,), "int32", data=np.array([3, 2, 1, 0], np.int32)),
                    T("y", (5, 4, 3, 2), "int16", 0.01)], [Op(39, ["x", "p"], ["y"])], ["x"], ["y"])
    with pytest.raises(ConversionError, match=r"int16 transpose over four axes .*reshape to rank 3") as e:
        convert_tflite_bytes(tflite, "t")
    assert "\n" not in str(e.value)
