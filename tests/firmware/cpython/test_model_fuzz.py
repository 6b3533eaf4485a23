"""The model file loader under fuzzing: a bad file is refused in one line, never crashes.

Valid models (TFLM's hello_world and micro_speech as converted here, and the
shipped gesture model) are mutated by tests.tools.model_mutations -- fields
set past their limits with the hash recomputed, bytes flipped, files cut or
extended -- and each result is loaded, bound and run once on the board's own
runtime code. The contract (docs/model-format.md, "What the reader refuses"):
an output of the model's output size, or ModelFileError with a one-line
message; never another exception, never a hang.
"""

from __future__ import annotations

import io
import random
import signal
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeloop_fw.runtime.interpreter import Interpreter
from edgeloop_fw.runtime.loader import Model, ModelFileError
from tests.tools.model_mutations import mutate, rehash, run_on_host
from tests.tools.paths import REPO
from tests.tools.runtime_helpers import HELLO, SPEECH, need

HANG_SECONDS = 60  # a mutated model's one inference takes well under a second here


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    from edgeloop.convert.int8 import convert_tflite
    return {"hello_world": convert_tflite(need(HELLO)).data,
            "micro_speech": convert_tflite(need(SPEECH)).data,
            "gesture": (REPO / "models" / "gesture" / "gesture.elm").read_bytes()}


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"a mutated model ran for more than {HANG_SECONDS} s")


def checked(blob: bytes, what: str) -> tuple[str, str]:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        kind, text = run_on_host(blob)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if kind == "refused":
        assert text and "\n" not in text, f"{what}: refusal is not one line: {text!r}"
    return kind, text


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["hello_world", "micro_speech", "gesture"]), rng=st.randoms(use_true_random=False))
def test_a_mutated_model_runs_or_is_refused_with_model_file_error(models, name, rng):
    what, blob = mutate(models[name], rng)
    checked(blob, f"{name}: {what}")


def test_the_unmutated_models_run(models):
    for name, blob in models.items():
        assert checked(blob, name)[0] == "ok", name


def _with(blob: bytes, at: int, fmt: str, value) -> bytes:
    out = bytearray(blob)
    struct.pack_into(fmt, out, at, value)
    return bytes(rehash(out))


def _op_params(blob: bytes, op: int) -> int:
    """File offset of op `op`'s first param (from the layout in docs/model-format.md)."""
    n_tensors, n_ops, n_in, n_out = struct.unpack_from("<4H", blob, 64)
    params_at = struct.unpack_from("<I", blob, 48)[0]
    row = 80 + 52 * n_tensors + 2 * (n_in + n_out) + 16 * op
    return params_at + 4 * struct.unpack_from("<I", blob, row + 4)[0]


# The cases issue 14 found, each a field behind the hash: each was a traceback or a
# confusing board error before the loader checked it.
@pytest.mark.parametrize("case, at, fmt, value, words", [
    ("arena 2**31-1", 44, "<I", 2**31 - 1, "arena_size"),
    ("names offset 10**9", 72, "<I", 10**9, "names"),
    ("unknown flags", 6, "<H", 0x8000, "flags"),
    ("params past the file", 52, "<I", 10**6, "params"),
    ("no inputs", 68, "<H", 0, "n_inputs"),
    ("tensor dtype 99", 80, "<B", 99, "dtype"),
    ("tensor rank 7", 81, "<B", 7, "rank"),
])
def test_header_and_table_fields_are_refused_naming_the_field(models, case, at, fmt, value, words):
    with pytest.raises(ModelFileError, match=words) as e:
        Model(io.BytesIO(_with(models["hello_world"], at, fmt, value)))
    assert "\n" not in str(e.value), case


def test_fully_connected_depth_zero_is_refused_not_a_zero_division(models):
    blob = models["hello_world"]
    at = _op_params(blob, 0)
    for index, field in ((1, "depth"), (7, "chunk"), (2, "output")):  # opspec: DEPTH, CHUNK, UNITS
        with pytest.raises(ModelFileError, match=f"op 0 \\(fully_connected\\).*{field}"):
            Interpreter(Model(io.BytesIO(_with(blob, at + 4 * index, "<i", 0))))


def test_an_arena_offset_past_the_arena_is_refused(models):
    blob = models["gesture"]
    at = _op_params(blob, 1)  # conv_2d: OUTPUT is param 16
    arena = struct.unpack_from("<I", blob, 44)[0]
    with pytest.raises(ModelFileError, match="op 1 \\(conv_2d\\) output .* outside the %d-byte arena" % arena):
        Model(io.BytesIO(_with(blob, at + 4 * 16, "<i", arena - 1)))


def test_a_heap_smaller_than_the_arena_is_refused(models):
    blob = models["micro_speech"]
    arena = struct.unpack_from("<I", blob, 44)[0]
    Model(io.BytesIO(blob), heap=arena)
    with pytest.raises(ModelFileError, match="arena_size"):
        Model(io.BytesIO(blob), heap=arena - 1)


def test_host_validate_summarises_a_good_model_and_refuses_a_bad_one(models):
    from edgeloop.convert.modelcheck import validate
    from edgeloop.errors import ModelError

    s = validate(models["gesture"], "gesture.elm")
    assert s.ops[1] == "conv_2d" and s.outputs[0].dtype == "int8" and s.file_size == len(models["gesture"])
    with pytest.raises(ModelError, match="^gesture.elm: model file is truncated"):
        validate(models["gesture"][:-1], "gesture.elm")


def test_a_fixed_seed_sample_covers_refusals_and_runs(models):
    """The board test replays these seeds; both kinds of outcome must be among them."""
    kinds = {checked(mutate(models[n], random.Random(s))[1], f"{n} seed {s}")[0]
             for s in range(30) for n in models}
    assert kinds == {"ok", "refused"}


def test_predict_on_a_crafted_model_is_one_line_not_a_traceback(models, tmp_path):
    """`edgeloop predict` crashed in fully_connected.bind on CHUNK = 0 (ZeroDivisionError)."""
    import numpy as np
    from click.testing import CliRunner

    from edgeloop.cli import cli

    blob = models["hello_world"]
    model = tmp_path / "chunk0.elm"
    model.write_bytes(_with(blob, _op_params(blob, 0) + 4 * 7, "<i", 0))  # opspec: FULLY_CONNECTED CHUNK
    np.save(tmp_path / "x.npy", np.zeros((1, 1), np.int8))
    r = CliRunner().invoke(cli, ["predict", "--model", str(model), "--input", str(tmp_path / "x.npy")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.strip().splitlines() == [f"edgeloop: {model}: model file: op 0 (fully_connected) chunk is 0, "
                                             "must be in [1, 1]; convert the model again"]
