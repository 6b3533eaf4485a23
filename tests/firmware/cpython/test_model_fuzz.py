"""The model-file check (edgeloop_fw.runtime.validate) against crafted files, under CPython.

Two properties, each against something the check did not produce:
- no false refusals: every model the converter writes from real, independently made
  TFLite files (MLPerf Tiny, TFLM's examples) and the shipped example models pass;
- no crash behind a recomputed hash: for any one field set to any value (hypothesis),
  the check refuses the file with a ModelFileError, or the runtime itself loads it and
  runs an inference without raising anything (tests.tools.model_mutations.outcome).
The cases issue 14 reproduced are named tests too.
"""

from __future__ import annotations

import io
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeloop_fw.runtime.loader import ModelFileError
from edgeloop_fw.runtime.validate import check
from tests.tools import model_mutations as M
from tests.tools.paths import REPO, SHARED_DATA as SHARED

SHIPPED = {name: (REPO / "models" / name / f"{name}.elm").read_bytes() for name in ("gesture", "keyword")}
REAL_TFLITE = ["mlperf_tiny/ad01_int8.tflite", "mlperf_tiny/kws_ref_model.tflite",
               "mlperf_tiny/pretrainedResnet_quant.tflite", "mlperf_tiny/vww_96_int8.tflite",
               "tflm/hello_world/hello_world_int8.tflite", "tflm/micro_speech/micro_speech_quantized.tflite"]


@pytest.mark.parametrize("rel", REAL_TFLITE)
def test_every_model_the_converter_writes_from_real_tflite_files_passes(rel):
    from edgeloop.convert.int8 import convert_tflite_bytes

    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} is missing (../shared/data, see its README)")
    check(io.BytesIO(convert_tflite_bytes(path.read_bytes(), rel).data))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_models_pass_and_run(name):
    assert M.outcome(SHIPPED[name])[0] == "ran"


def _field(blob, name):
    return next(f for f in M.fields(blob) if f.name == name)


def _refusal(blob) -> str:
    with pytest.raises(ModelFileError) as e:
        check(io.BytesIO(blob))
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("field, value, says", [
    ("arena_size", 2 ** 31 - 1, "RAM"),
    ("names_offset", 10 ** 9, "names area"),
    ("flags", 1, "flags"),
    ("n_tensors", 0xFFFF, "tables"),
    ("params_count", 0x7FFFFFFF, "params"),
    ("tensor0.nbytes", 10 ** 6, "tensor 0"),
    ("tensor0.name_len", 0xFFFF, "name"),
    ("io0", 0xFFFF, "input 0"),
    ("op0.opcode", 16, "opcode 16"),  # LSTM: no kernel
    ("op0.params_start", 10 ** 6, "params"),
])
def test_the_crafted_headers_of_issue_14_are_refused_in_one_line(field, value, says):
    blob = SHIPPED["gesture"]
    assert says in _refusal(M.mutate(blob, _field(blob, field), value))


def test_fully_connected_chunk_zero_is_refused_not_a_zero_division():
    """The ZeroDivisionError in fully_connected.bind that issue 14 reproduced."""
    from edgeloop_fw.runtime.opspec import names

    blob = SHIPPED["keyword"]
    fc = [f for f in M.fields(blob) if f.name.endswith(".opcode") and M.value_of(blob, f) == 9][0]
    op = fc.name.split(".")[0]
    chunk = _field(blob, f"{op}.param{names('fully_connected')['CHUNK']}")
    assert "chunk" in _refusal(M.mutate(blob, chunk, 0))


def test_a_truncated_model_is_refused():
    blob = SHIPPED["gesture"]
    assert "truncated" in _refusal(blob[:-100])


def test_a_model_larger_than_the_boards_heap_is_refused():
    blob = SHIPPED["keyword"]
    with pytest.raises(ModelFileError, match="heap"):
        check(io.BytesIO(blob), heap=4096)


_MODELS = sorted(SHIPPED)
_FIELDS = {name: M.fields(SHIPPED[name]) for name in _MODELS}


@st.composite
def _mutation(draw):
    name = draw(st.sampled_from(_MODELS))
    field = draw(st.sampled_from(_FIELDS[name]))
    old = M.value_of(SHIPPED[name], field)
    value = draw(st.one_of(st.sampled_from(M.INTERESTING), st.integers(-2 ** 31, 2 ** 32 - 1),
                           st.integers(-3, 3).map(lambda d: old + d), st.just(old * 2), st.just(old // 2)))
    return name, field, value


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutation())
def test_any_one_field_changed_is_refused_or_runs(m):
    name, field, value = m
    verdict, detail = M.outcome(M.mutate(SHIPPED[name], field, value))
    assert verdict in ("refused", "ran")
    if verdict == "refused":
        assert "\n" not in detail


_ELEMENTWISE = {}


def _elementwise(op: str) -> bytes:
    """A converted random model of one of the element-wise ops (built once, needs tflite-micro's schema)."""
    if op not in _ELEMENTWISE:
        from edgeloop.convert.int8 import convert_tflite_bytes
        from tests.tools import elementwise_cases as E

        seed = 1 if op != "SUB" else 6  # a constant operand (1), a broadcast with a constant (6)
        _ELEMENTWISE[op] = convert_tflite_bytes(E.case(op, seed).tflite).data
    return _ELEMENTWISE[op]


@st.composite
def _elementwise_mutation(draw):
    from tests.tools import elementwise_cases as E

    op = draw(st.sampled_from(E.OPS))
    blob = _elementwise(op)
    field = draw(st.sampled_from(M.fields(blob)))
    old = M.value_of(blob, field)
    value = draw(st.one_of(st.sampled_from(M.INTERESTING), st.integers(-2 ** 31, 2 ** 32 - 1),
                           st.integers(-3, 3).map(lambda d: old + d), st.just(old * 2), st.just(old // 2)))
    return blob, field, value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_elementwise_mutation())
def test_any_one_field_of_an_elementwise_op_changed_is_refused_or_runs(m):
    """The new kernels' checks (validate._binary and friends) against crafted params."""
    pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    blob, field, value = m
    verdict, detail = M.outcome(M.mutate(blob, field, value))
    assert verdict in ("refused", "ran")


@pytest.fixture(scope="module")
def wide_model() -> bytes:
    """A 16x8 model through every 16x8 kernel (tests.tools.models_16x8), converted by edgeloop."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools.models_16x8 import every_16x8_op, to_16x8

    model, x = every_16x8_op()
    return convert_tflite_bytes(to_16x8(tf, model, x), "every_16x8_op").data


@pytest.mark.tf
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_one_field_of_a_16x8_model_changed_is_refused_or_runs(wide_model, data):
    """The 16x8 checks (int16 offsets, 64-bit bias units, QUANTIZE's value widths, MEAN's count)
    against the same mutations as the int8 models'."""
    assert M.outcome(wide_model)[0] == "ran"
    field = data.draw(st.sampled_from(M.fields(wide_model)))
    old = M.value_of(wide_model, field)
    value = data.draw(st.one_of(st.sampled_from(M.INTERESTING), st.integers(-2 ** 31, 2 ** 32 - 1),
                                st.integers(-3, 3).map(lambda d: old + d), st.just(old * 2), st.just(old // 2)))
    verdict, detail = M.outcome(M.mutate(wide_model, field, value))
    assert verdict in ("refused", "ran")
    if verdict == "refused":
        assert "\n" not in detail


@pytest.mark.tf
@pytest.mark.parametrize("opcode", [0, 1, 9, 40, 114])  # ADD, AVERAGE_POOL_2D, FULLY_CONNECTED, MEAN, QUANTIZE
def test_a_16x8_op_given_another_ops_opcode_is_refused_in_one_line(wide_model, opcode):
    """The 16x8 checks read a layout's fields only once the param count fits it (an IndexError
    escaped them before: the fuzz test above found it)."""
    conc = [f for f in M.fields(wide_model) if f.name.endswith(".opcode") and M.value_of(wide_model, f) == 2][0]
    assert "params" in _refusal(M.mutate(wide_model, conc, opcode))
