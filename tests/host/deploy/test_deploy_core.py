"""Deploy logic without a board: chunk encoding, the board scripts run under
CPython against a folder, the manifest diff, and crash recovery of the
rename phase at every possible interruption point."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from tests.tools.deploy_fakes import CPythonBoard, cutting_os
from edgeloop.deploy import plan as deploy_mod
from edgeloop.deploy.plan import DeployFile, deploy_files, open_session, parse_manifest
from edgeloop.errors import DeployError, NotEnoughSpace
from edgeloop.link.transfer import MODE_ZLIB, board_script, chunk_size_for, decode_chunks, encode_chunks


@pytest.fixture
def cpython_board(monkeypatch, tmp_path):
    monkeypatch.setattr(deploy_mod, "SUPPORTED_FIRMWARE", ("micropython", "circuitpython", "cpython"))
    root = tmp_path / "board"
    root.mkdir()
    board = CPythonBoard()
    return board, root


def session_for(board, root):
    return open_session(board, root=str(root))


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# -- chunk encoding ---------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000) | st.text(max_size=3000).map(str.encode),
       chunk=st.sampled_from([1024, 2048, 4096]), compress=st.booleans(), hex_payload=st.booleans())
def test_chunks_round_trip(data, chunk, compress, hex_payload):
    chunks = list(encode_chunks(data, chunk, compress, hex_payload))
    assert decode_chunks(chunks, hex_payload) == data
    assert sum(n for _, _, n in chunks) == len(data)
    for mode, payload, n in chunks:
        assert n <= chunk
        if mode == MODE_ZLIB:
            body = bytes.fromhex(payload.decode()) if hex_payload else base64.b64decode(payload)
            # zlib header CINFO = 2: a 1 KiB window, which a small board can afford to inflate.
            assert body[0] >> 4 == 2
            assert zlib.decompressobj(10).decompress(body) == data[:n] or n < len(data)


def test_text_is_compressed_and_noise_is_not():
    text = (b"def f(x):\n    return x * 2\n" * 300)
    noise = __import__("random").Random(1).randbytes(4000)
    assert all(m == MODE_ZLIB for m, _, _ in encode_chunks(text, 4096, True))
    assert all(m == 0 for m, _, _ in encode_chunks(noise, 4096, True))


def test_chunk_size_follows_heap():
    assert chunk_size_for(192_064) == 4096 or chunk_size_for(192_064) == 8192
    assert chunk_size_for(30_000) == 1024
    assert chunk_size_for(None) == 4096
    assert chunk_size_for(10**9) == 16384


# -- deploy against a CPython "board" ---------------------------------------

def board_file(root: Path, remote: str) -> bytes:
    return (root / remote.lstrip("/")).read_bytes()


def test_first_deploy_sends_everything_and_writes_manifest(cpython_board):
    board, root = cpython_board
    files = [(b"print('hi')\n" * 500, "/main.py"), (bytes(range(256)) * 40, "/lib/pkg/data.bin"),
             (b"", "/lib/pkg/empty.py")]
    result = deploy_files(board, files, group="app", session=session_for(board, root))
    assert sorted(result.sent) == sorted(r for _, r in files)
    for data, remote in files:
        assert board_file(root, remote) == data
    manifest = parse_manifest((root / ".edgeloop/manifest.json").read_text())
    for data, remote in files:
        assert manifest["files"][remote]["sha256"] == sha(data)
        assert manifest["files"][remote]["size"] == len(data)
    assert not (root / ".edgeloop/journal.json").exists()
    assert not (root / ".edgeloop/stage").exists()
    assert (root / ".edgeloop/apply.py").read_text() == board_script("apply")


def test_second_deploy_sends_only_what_changed(cpython_board):
    board, root = cpython_board
    a, b = b"a = 1\n" * 100, b"b = 2\n" * 100
    deploy_files(board, [(a, "/a.py"), (b, "/lib/b.py")], session=session_for(board, root))
    again = deploy_files(board, [(a, "/a.py"), (b, "/lib/b.py")], session=session_for(board, root))
    assert again.sent == [] and sorted(again.unchanged) == ["/a.py", "/lib/b.py"]
    assert again.hashed_on_board == 0
    changed = deploy_files(board, [(a, "/a.py"), (b + b"c = 3\n", "/lib/b.py")], session=session_for(board, root))
    assert changed.sent == ["/lib/b.py"]
    assert board_file(root, "/lib/b.py") == b + b"c = 3\n"


def test_stale_or_missing_manifest_is_checked_by_hash_on_board(cpython_board):
    board, root = cpython_board
    a = b"x = 1\n" * 50
    deploy_files(board, [(a, "/a.py")], session=session_for(board, root))
    (root / ".edgeloop/manifest.json").unlink()
    result = deploy_files(board, [(a, "/a.py")], session=session_for(board, root))
    assert result.sent == [] and result.hashed_on_board == 1
    # Same size, different bytes, manifest claims the old hash: only --verify catches it.
    (root / "a.py").write_bytes(b"y = 2\n" * 50)
    assert deploy_files(board, [(a, "/a.py")], session=session_for(board, root)).sent == []
    fixed = deploy_files(board, [(a, "/a.py")], verify=True, session=session_for(board, root))
    assert fixed.sent == ["/a.py"] and board_file(root, "/a.py") == a
    # A size change is seen without hashing.
    (root / "a.py").write_bytes(b"short")
    assert deploy_files(board, [(a, "/a.py")], session=session_for(board, root)).sent == ["/a.py"]


def test_prune_removes_only_its_group(cpython_board):
    board, root = cpython_board
    fw = [DeployFile("/lib/fw/a.mpy", b"A", group="firmware"), DeployFile("/lib/fw/b.mpy", b"B", group="firmware")]
    model = DeployFile("/models/m.tflite", b"M" * 10, group="models")
    deploy_files(board, fw + [model], session=session_for(board, root))
    result = deploy_files(board, fw[:1], prune=("firmware",), session=session_for(board, root))
    assert result.removed == ["/lib/fw/b.mpy"]
    assert not (root / "lib/fw/b.mpy").exists()
    assert board_file(root, "/models/m.tflite") == b"M" * 10
    manifest = parse_manifest((root / ".edgeloop/manifest.json").read_text())
    assert set(manifest["files"]) == {"/lib/fw/a.mpy", "/models/m.tflite"}


def test_not_enough_space_refuses_before_writing(cpython_board):
    board, root = cpython_board
    session = session_for(board, root)
    session.space()  # what the board reports, then a smaller filesystem in its place
    session.info.update(free=10_000, total=1_000_000, block=4096)
    with pytest.raises(NotEnoughSpace, match=r"needs [\d,]+ bytes .* 10,000 free of 1,000,000"):
        deploy_files(board, [(b"z" * 50_000, "/big.bin")], session=session)
    assert not (root / "big.bin").exists() and not (root / ".edgeloop/stage").exists()


@pytest.mark.parametrize("bad", ["main.py", "/lib/", "/.edgeloop/x", "/a/../b", '/a"b.py', "/caf\u00e9.py"])
def test_bad_remote_paths_are_refused(cpython_board, bad):
    board, root = cpython_board
    with pytest.raises(DeployError):
        deploy_files(board, [(b"x", bad)], session=session_for(board, root))


def test_unplug_mid_transfer_leaves_previous_app(cpython_board):
    board, root = cpython_board
    old = [(b"old %d\n" % i * 300, f"/lib/m{i}.py") for i in range(6)]
    deploy_files(board, old, session=session_for(board, root))
    before = {p: p_.read_bytes() for p, p_ in ((r, root / r.lstrip("/")) for _, r in old)}
    new = [(__import__("random").Random(i).randbytes(18_000), f"/lib/m{i}.py") for i in range(6)]
    session = session_for(board, root)
    board.fail_after_execs = board.execs + 6  # dies while staging (plan, mkdir, 4 of ~14 writes)
    with pytest.raises(DeployError, match="previous app"):
        deploy_files(board, new, session=session)
    assert {r: (root / r.lstrip("/")).read_bytes() for _, r in old} == before
    assert not (root / ".edgeloop/journal.json").exists()
    board.fail_after_execs = None
    result = deploy_files(board, new, session=session_for(board, root))  # stage leftovers cleared first
    assert len(result.sent) == 6 and not (root / ".edgeloop/stage").exists()


# -- the rename phase, interrupted at every step -----------------------------

def _run_apply(root: Path, namespace: dict | None = None) -> int:
    ns = namespace if namespace is not None else {}
    exec(board_script("apply"), ns)
    return ns["el_apply"](str(root))


class Reset(BaseException):
    """A board reset: nothing after it runs."""


@pytest.mark.parametrize("batch", [16, 1], ids=["one-apply-call", "an-apply-call-per-file"])
@pytest.mark.parametrize("fat", [False, True], ids=["rename-replaces", "fat-no-replace"])
def test_rename_phase_recovers_from_a_reset_at_any_point(cpython_board, monkeypatch, fat, batch):
    """batch=1: the roll-forward split over several execs (as the WebAssembly board needs),
    cut between and inside them."""
    from edgeloop.deploy import plan

    monkeypatch.setattr(plan, "APPLY_BATCH", batch)
    board, root = cpython_board
    old = {"/boot.py": b"boot old", "/lib/fw/a.mpy": b"a old", "/lib/fw/gone.mpy": b"gone"}
    new = {"/boot.py": b"boot new", "/lib/fw/a.mpy": b"a new!", "/lib/fw/sub/c.mpy": b"c new"}
    import shutil

    deploy_files(board, [DeployFile(p, d, group="firmware") for p, d in old.items()],
                 session=session_for(board, root))
    snapshot = root.parent / "snapshot"
    shutil.copytree(root, snapshot)

    # Count the filesystem operations one full commit takes, then cut it after each.
    outcomes = []
    for cut in range(0, 40):
        shutil.rmtree(root)
        shutil.copytree(snapshot, root)
        calls = {"n": 0}

        def step(cut=cut, calls=calls):
            if calls["n"] >= cut:
                raise Reset()
            calls["n"] += 1

        board.namespace.clear()  # a reset clears the REPL's globals (and the receiver in them)
        session = session_for(board, root)
        session.device.namespace["os"] = cutting_os(step, fat)  # the receiver's os
        try:
            deploy_files(board, [DeployFile(p, d, group="firmware") for p, d in new.items()],
                         prune=("firmware",), session=session)
            finished = True
        except Reset:
            finished = False
        # The board restarts: boot.py's hook (or the next deploy) runs the applier with the real os.
        _run_apply(root)
        state = {p: (root / p.lstrip("/")).read_bytes() for p in set(old) | set(new)
                 if (root / p.lstrip("/")).exists()}
        assert state in (old, new), f"cut after {cut} operations left a mix: {state}"
        outcomes.append((finished, state == new))
        if (root / ".edgeloop/journal.json").exists():
            raise AssertionError("journal left behind after recovery")
        if state == new:
            manifest = parse_manifest((root / ".edgeloop/manifest.json").read_text())
            assert {p: e["sha256"] for p, e in manifest["files"].items()} == {p: sha(d) for p, d in new.items()}
        if finished:
            break
    else:
        raise AssertionError("the commit never finished within 40 operations")
    # Some cuts fell before the commit (old app kept), some inside the rename phase
    # (rolled forward by recovery), and the last one ran to the end.
    assert (False, False) in outcomes and (False, True) in outcomes and outcomes[-1] == (True, True)


def test_receiver_is_sent_once_per_reset(cpython_board):
    from edgeloop.link.transfer import receiver_code

    board, root = cpython_board
    deploy_files(board, [(b"x", "/a.py")], session=session_for(board, root))
    deploy_files(board, [(b"x", "/a.py")], session=session_for(board, root))
    assert sum(code == receiver_code() for code in board.sent) == 1
    board.namespace.clear()  # a reset empties the REPL's globals
    deploy_files(board, [(b"x", "/a.py")], session=session_for(board, root))
    assert sum(code == receiver_code() for code in board.sent) == 2


def test_manifest_is_json_with_one_member_per_line(cpython_board):
    board, root = cpython_board
    deploy_files(board, [(b"a", "/a.py"), (b"bb", "/lib/b.py")], group="app", board="rp2040",
                 session=session_for(board, root))
    text = (root / ".edgeloop/manifest.json").read_text()
    members = json.loads(text)  # any JSON reader can use it
    assert members["/lib/b.py"] == {"size": 2, "sha256": sha(b"bb"), "group": "app", "source": "<bytes>"}
    assert members["board"] == "rp2040" and members["format"] == 2
    assert len(text.splitlines()) == 2 + len(members)  # "{", a line per member, "}"
