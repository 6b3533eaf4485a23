"""The board's own model check (edgeloop_fw.runtime.validate) on the rp2040 virtual board.

Two things issue 14 asks of a board and the host cannot show for it:

* `deploy` lets the board read a staged `.elm` with its own runtime before the
  journal: a file the board refuses is never moved into place, the running
  model stays byte for byte, and the stage is gone. The host's check is
  bypassed here on purpose (deploy_files is called directly), so the refusal
  can only come from the board;
* crafted files (one field changed, hash recomputed, tests/tools/model_mutations;
  fields and values drawn by hypothesis) get the same verdict on the board as under CPython: the same one-line
  refusal, or a load and an inference with the same output bytes. Nothing
  else (an IndexError, a crash of the interpreter, a MemoryError) may come out.
"""

from __future__ import annotations

import hashlib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeloop.deploy.plan import STAGE, DeployFile, deploy_files
from edgeloop.errors import DeployError
from edgeloop.link.device import Device
from tests.tools import model_mutations as M
from tests.tools.fw_board import TEST_GROUP
from tests.tools.paths import REPO

pytestmark = pytest.mark.sim

GOOD = (REPO / "models" / "gesture" / "gesture.elm").read_bytes()
REMOTE = "/models/gesture.elm"
ROUNDS, SAMPLE = 4, 45  # hypothesis examples; drawn files per example (put in one deploy, checked one per exec)

_SHA = ("import hashlib, binascii\n"
        "def _sha(p):\n"
        " h = hashlib.sha256()\n"
        " with open(p, 'rb') as f:\n"
        "  h.update(f.read())\n"
        " return binascii.hexlify(h.digest()).decode()\n"
        "print(_sha({path!r}))\n")
_STAGE_EXISTS = "import os\ntry:\n os.stat({path!r})\n print(True)\nexcept OSError:\n print(False)\n"


def _field(blob: bytes, name: str) -> M.Field:
    return next(f for f in M.fields(blob) if f.name == name)


def _deploy(port: str, blob: bytes):
    with Device(port) as dev:
        return deploy_files(dev, [DeployFile(REMOTE, blob, "crafted", TEST_GROUP)], group=TEST_GROUP)


def _board_sha(port: str, path: str) -> str:
    with Device(port) as dev:
        return dev.exec(_SHA.format(path=path), timeout=60).decode().strip()


@pytest.fixture(scope="module")
def good_model(fw_board):
    fw_board.put({}, models=[REPO / "models" / "gesture" / "gesture.elm"])
    assert _board_sha(fw_board.port, REMOTE) == hashlib.sha256(GOOD).hexdigest()
    return fw_board


@pytest.mark.parametrize("field, value, says", [
    ("arena_size", 2 ** 31 - 1, "RAM"),  # issue 14's crafted header
    ("arena_size", 400_000, "RAM"),  # fits the host's 8 MiB bound, not an RP2040's heap
    ("op0.opcode", 5, "opcode 5"),  # DEPTH_TO_SPACE: no kernel on the board
])
def test_deploy_keeps_the_model_when_the_board_refuses_the_new_one(good_model, field, value, says):
    bad = M.mutate(GOOD, _field(GOOD, field), value)
    with pytest.raises(DeployError) as e:
        _deploy(good_model.port, bad)
    msg = str(e.value)
    assert msg.startswith(f"the board refused {REMOTE}: ") and msg.endswith("; nothing was replaced"), msg
    assert says in msg and "\n" not in msg
    assert _board_sha(good_model.port, REMOTE) == hashlib.sha256(GOOD).hexdigest()
    with Device(good_model.port) as dev:
        assert dev.exec(_STAGE_EXISTS.format(path=STAGE), timeout=30).decode().strip() == "False"


def test_the_host_alone_would_have_let_the_oversized_arena_through(good_model):
    """The 400,000-byte arena above is refused for the board's heap, which only the board knows."""
    bad = M.mutate(GOOD, _field(GOOD, "arena_size"), 400_000)
    assert M.outcome(bad)[0] == "ran"
    assert M.outcome(bad, heap=192_000)[0] == "refused"


def test_a_good_model_passes_the_boards_check(good_model):
    """Another good model in its place, then the first back: both checked by the board and moved."""
    kw = (REPO / "models" / "keyword" / "keyword.elm").read_bytes()
    r = _deploy(good_model.port, kw)
    assert r.sent == [REMOTE]
    assert not any("checked on the host" in n for n in r.notes), r.notes
    assert _board_sha(good_model.port, REMOTE) == hashlib.sha256(kw).hexdigest()
    r = _deploy(good_model.port, GOOD)
    assert r.sent == [REMOTE] and _board_sha(good_model.port, REMOTE) == hashlib.sha256(GOOD).hexdigest()


# One crafted file on the board: its check, then (if it passes) a load and an inference on zero
# inputs, as tests/tools/model_mutations.outcome does under CPython. HEAP is the bound both use.
_RUN = """
import gc
from edgeloop_fw.runtime.validate import check_path
from edgeloop_fw.runtime.loader import Model, ModelFileError
from edgeloop_fw.runtime.interpreter import Interpreter
try:
    check_path({path!r}, {heap})
    f = open({path!r}, 'rb')
    it = Interpreter(Model(f))
    for i, t in enumerate(it.model.inputs):
        it.set_input(bytes(t.nbytes), i)
    it.invoke()
    print('ran', b''.join(it.get_output(i) for i in range(len(it.model.outputs))).hex())
    f.close()
except ModelFileError as e:
    print('refused', e)
"""
HEAP = 60_000  # what the model may take on this board: well under its free heap, so a "ran" fits


ISSUE_14 = [("arena_size", 2 ** 31 - 1), ("names_offset", 10 ** 9), ("flags", 1), ("n_tensors", 0xFFFF)]
NAMES = [f.name for f in M.fields(GOOD)]
VALUES = st.one_of(st.sampled_from(M.INTERESTING), st.integers(-2 ** 31, 2 ** 32 - 1))


@settings(max_examples=ROUNDS, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(picks=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), min_size=SAMPLE, max_size=SAMPLE))
def test_crafted_files_get_the_same_verdict_on_the_board_as_under_cpython(fw_board, picks):
    """Hypothesis draws each round's fields and values; the unchanged file and issue 14's headers
    go in every round, so each round has files the board must run and files it must refuse."""
    blobs = [GOOD] + [M.mutate(GOOD, _field(GOOD, name), value) for name, value in ISSUE_14 + picks]
    picks = [("(none)", 0)] + ISSUE_14 + picks
    # Not named .elm: deploy itself would have the board refuse most of them. The previous
    # round's files go first, in their own deploy (one deploy of 100 files exceeds this heap).
    fw_board.put({})
    fw_board.put({f"/fuzz/{i}.bin": b for i, b in enumerate(blobs)})
    kinds = set()
    with fw_board.session() as dev:
        for i, ((name, value), blob) in enumerate(zip(picks, blobs)):
            want = M.outcome(blob, heap=HEAP)
            got = dev.exec(_RUN.format(path=f"/fuzz/{i}.bin", heap=HEAP), timeout=120).decode().strip()
            assert got == f"{want[0]} {want[1]}", f"{name}={value}: board {got!r}, CPython {want!r}"
            kinds.add(want[0])
    assert kinds == {"ran", "refused"}
