"""Mutated model files on the virtual board: refused with ModelFileError or run, never anything else.

The same seeds of tests.tools.model_mutations that the CPython fuzz test
draws from, replayed on the board's MicroPython (the deployed firmware, the
rp2040 heap cap): each file is loaded, bound and run once on zeros in its
own execution. Before the loader checked its fields, these files gave the
board TypeErrors, IndexErrors and MemoryErrors, or wrote outside the arena.
CPython running the same runtime is the second opinion: where it refuses,
the board refuses with the same line; where both run, the bytes agree.
"""

from __future__ import annotations

import random

import pytest

from tests.tools.model_mutations import mutate, run_on_host
from tests.tools.paths import REPO
from tests.tools.runtime_helpers import HELLO, need

pytestmark = pytest.mark.sim

SEEDS = range(30)

TRY = """
from edgeloop_fw.runtime.loader import Model, ModelFileError
from edgeloop_fw.runtime.interpreter import Interpreter
def _try(path):
    f = open(path, 'rb')
    try:
        m = Model(f)
        it = Interpreter(m)
        it.set_input(bytes(m.inputs[0].nbytes))
        it.invoke()
        print('RESULT ok', it.get_output().hex())
    except ModelFileError as e:
        print('RESULT refused', e)
    except Exception as e:
        print('RESULT other', type(e).__name__, e)
    f.close()
_try(%r)
"""


def test_mutated_models_on_the_board_run_or_are_refused_like_on_cpython(fw_board):
    from edgeloop.convert.int8 import convert_tflite

    # The two small models: micro_speech's one inference takes minutes on the virtual board.
    models = [convert_tflite(need(HELLO)).data, (REPO / "models" / "gesture" / "gesture.elm").read_bytes()]
    cases = {}
    for s in SEEDS:
        what, blob = mutate(models[s % 2], random.Random(s))
        cases[f"/fuzz{s}.elm"] = (what, blob, run_on_host(blob))
    fw_board.put({path: blob for path, (_w, blob, _h) in cases.items()})
    out = fw_board.run([TRY % path for path in cases], timeout=600)
    got = [line.split(" ", 2)[1:] for line in out.splitlines() if line.startswith("RESULT ")]
    assert len(got) == len(cases), out
    kinds = set()
    for (path, (what, _blob, (host_kind, host_text))), (kind, text) in zip(cases.items(), got):
        kinds.add(kind)
        assert kind in ("ok", "refused"), f"{path} ({what}): the board raised {text}"
        if host_kind == "refused":
            assert (kind, text) == ("refused", host_text), f"{path} ({what})"
        elif kind == "refused":  # the host has more RAM than the board: only the heap may differ
            assert "heap" in text, f"{path} ({what}): {text}"
        else:
            assert text == host_text, f"{path} ({what}): the board's output differs from CPython's"
    assert kinds == {"ok", "refused"}  # the sample reaches both outcomes
