"""edgeloop_fw.slots under CPython against a folder standing in for the board's filesystem.

Signatures are made and checked by `cryptography` (the board's own Ed25519 is tested where it
lives, edgeloop_fw.crypto); what is tested here is every decision the board makes around it:
each refusal leaves the running slot and the state byte for byte, a good bundle switches,
and a pending slot that does not confirm is rolled back at the next start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeloop.deploy import bundle as B
from edgeloop_fw import bundle_format as BF
from edgeloop_fw import slots as S
from tests.tools.deploy_fakes import cutting_os
from tests.tools.paths import REPO

TREES = REPO / "models" / "gesture_trees"
CNN = REPO / "models" / "gesture"


def crypto_verify(pub, msg, sig):
    try:
        Ed25519PublicKey.from_public_bytes(bytes(pub)).verify(bytes(sig), bytes(msg))
        return True
    except InvalidSignature:
        return False


@pytest.fixture
def board(tmp_path):
    root = tmp_path / "flash"
    (root / "keys").mkdir(parents=True)
    key = Ed25519PrivateKey.generate()
    (root / "keys" / "edgeloop.pub").write_bytes(key.public_key().public_bytes_raw())
    return str(root), key


def send(root, data: bytes):
    Path(root + S.SLOTS).mkdir(exist_ok=True)
    Path(root + S.INCOMING).write_bytes(data)


def install(root, data):
    send(root, data)
    return S.install(root=root, verify=crypto_verify)


def snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in Path(root).rglob("*") if p.is_file()}


def test_good_bundle_switches_and_confirms(board):
    root, key = board
    name, version, counter, signed = install(root, B.build_bundle(CNN, counter=1, key=key, confirm_inferences=3))
    assert (name, counter, signed) == ("a", 1, True)
    assert (Path(root) / "slots/a/gesture.elm").read_bytes() == (CNN / "gesture.elm").read_bytes()
    assert not Path(root + S.INCOMING).exists()
    cfg, left = S.app_config({"model": "@slots/gesture.elm", "sensor": {"kind": "imu", "rate": 50}}, root)
    assert cfg["model"] == root + "/slots/a/gesture.elm" and left == 3 and cfg["sensor"]["rate"] == 100
    assert S.load_state(root)["pending"] and S.load_state(root)["boots"] == 1
    S.confirm(root)
    assert not S.load_state(root)["pending"]
    name2, *_ = install(root, B.build_bundle(TREES, counter=2, key=key))
    assert name2 == "b" and S.load_state(root)["previous"] == "a"


def _refused(root, data, code):
    before = snapshot(root)
    send(root, data)
    with pytest.raises(BF.BundleError) as e:
        S.install(root=root, verify=crypto_verify)
    assert e.value.code == code, e.value
    after = snapshot(root)
    assert {k: v for k, v in after.items() if not k.startswith("slots/b/")} == \
        {k: v for k, v in before.items() if not k.startswith("slots/b/")}  # only the idle slot may differ
    assert S.load_state(root) == json.loads(json.dumps(S.load_state(root)))
    return str(e.value)


@pytest.fixture
def installed(board):
    root, key = board
    install(root, B.build_bundle(TREES, counter=5, key=key))
    S.confirm(root)
    return root, key


def test_unsigned_refused(installed):
    root, _ = installed
    assert "unsigned" in _refused(root, B.build_bundle(TREES, counter=6), BF.UNSIGNED)


def test_other_key_refused(installed):
    root, _ = installed
    _refused(root, B.build_bundle(TREES, counter=6, key=Ed25519PrivateKey.generate()), BF.BAD_SIGNATURE)


def test_changed_manifest_refused_by_signature(installed):
    root, key = installed
    data = B.build_bundle(TREES, counter=6, key=key).replace(b'"counter":6', b'"counter":9')
    _refused(root, data, BF.BAD_SIGNATURE)


def test_changed_file_refused(installed):
    root, key = installed
    data = bytearray(B.build_bundle(TREES, counter=6, key=key))
    data[-40] ^= 0x10
    assert "does not match" in _refused(root, bytes(data), BF.CHANGED_FILE)


@pytest.mark.parametrize("counter", [5, 4])
def test_older_counter_refused(installed, counter):
    root, key = installed
    assert "not greater than the board's 5" in _refused(root, B.build_bundle(TREES, counter=counter, key=key),
                                                        BF.OLDER_COUNTER)


def test_selftest_mismatch_refused_and_not_switched(installed):
    root, key = installed
    bad = B.build_bundle(CNN, counter=6, key=key, expected_sha256="0" * 64)
    _refused(root, bad, BF.SELFTEST_MISMATCH)
    assert S.load_state(root)["active"] == "a" and S.load_state(root)["counter"] == 5


def test_pending_candidate_that_never_confirms_is_rolled_back(installed):
    root, key = installed
    install(root, B.build_bundle(CNN, counter=6, key=key, confirm_inferences=5))
    cfg, left = S.app_config({"model": "@slots/x"}, root)  # first start of the candidate: it "crashes"
    assert cfg["model"].endswith("/slots/b/gesture.elm") and left == 5
    cfg, left = S.app_config({"model": "@slots/x"}, root)  # next start: previous slot is back
    assert cfg["model"].endswith("/slots/a/gesture_trees.csv") and left == 0
    st = S.load_state(root)
    assert st["active"] == "a" and not st["pending"] and st["counter"] == 6 and "rolled back" in st["note"]


def test_pending_candidate_with_a_changed_file_is_rolled_back_at_start(installed):
    root, key = installed
    install(root, B.build_bundle(CNN, counter=6, key=key))
    p = Path(root) / "slots/b/gesture.elm"
    data = bytearray(p.read_bytes())
    data[100] ^= 1
    p.write_bytes(bytes(data))
    cfg, _ = S.app_config({"model": "@slots/x"}, root)
    assert cfg["model"].endswith("/slots/a/gesture_trees.csv")


def test_plain_model_refused_on_a_provisioned_board(board):
    root, _ = board
    with pytest.raises(ValueError, match="only signed bundles"):
        S.app_config({"model": "/models/gesture.elm"}, root)


def test_torn_state_write_reads_as_the_old_state(installed):
    root, _ = installed
    good = S.load_state(root)
    Path(root + S.STATE_NEW).write_text('{"active": "b", "coun')  # cut mid-write
    assert S.load_state(root) == good and not Path(root + S.STATE_NEW).exists()


def test_unprovisioned_board_accepts_unsigned(tmp_path):
    root = str(tmp_path)
    name, _, _, signed = install(root, B.build_bundle(TREES, counter=1))
    assert name == "a" and signed is False


# -- a power cut after every filesystem write of an install ---------------------------------

class Reset(BaseException):
    """Power gone: nothing after it runs."""


def _cut_after(monkeypatch, cut, fat):
    """Make edgeloop_fw.slots and selftest lose power after `cut` writes (a torn last write:
    half its bytes land), with FAT's rename that will not replace a file, if `fat`."""
    import builtins

    calls = {"n": 0}

    def step():
        if calls["n"] >= cut:
            raise Reset()
        calls["n"] += 1

    class CutFile:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            if calls["n"] >= cut:
                self.f.write(bytes(data)[:len(data) // 2] if not isinstance(data, str) else data[:len(data) // 2])
                self.f.flush()
                raise Reset()
            calls["n"] += 1
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    def cut_open(path, mode="r", *a, **kw):
        f = builtins.open(path, mode, *a, **kw)
        return CutFile(f) if ("w" in mode or "a" in mode) else f

    monkeypatch.setattr(S, "os", cutting_os(step, fat))
    monkeypatch.setattr(S, "open", cut_open, raising=False)
    return calls


def _boot_and_selftest(root):
    """What the board does at the next boot and app start; returns (slot, version) that runs,
    after running that slot's own self-test (which must pass)."""
    S.recover(root)
    cfg, _ = S.app_config({"model": "@slots/x"}, root)
    st = S.load_state(root)
    name = st["active"]
    m = S.slot_manifest(name, root)
    S.run_selftest(name, m, root)  # raises BundleError on a mismatch
    assert cfg["model"] == root + "/slots/" + name + "/" + m["model"]
    return name, m["version"]


@pytest.mark.parametrize("fat", [False, True], ids=["rename-replaces", "fat-no-replace"])
def test_power_cut_after_every_write_always_boots_a_self_tested_model(board, monkeypatch, fat):
    import shutil

    root, key = board
    install(root, B.build_bundle(TREES, counter=1, key=key, version="old"))
    S.confirm(root)
    new = B.build_bundle(CNN, counter=2, key=key, version="new")
    send(root, new)
    snapshot = Path(root).parent / "snapshot"
    shutil.copytree(root, snapshot)
    seen = {"old": 0, "new": 0}
    for cut in range(0, 400):
        shutil.rmtree(root)
        shutil.copytree(snapshot, root)
        _cut_after(monkeypatch, cut, fat)
        try:
            S.install(root=root, verify=crypto_verify)
            finished = True
        except Reset:
            finished = False
        monkeypatch.undo()
        _, version = _boot_and_selftest(root)
        seen[version] += 1
        if finished:
            break
    else:
        raise AssertionError("the install never finished within 400 writes")
    assert seen["old"] and seen["new"], seen
    print(f"power cuts ({'FAT' if fat else 'rename-replaces'}): {cut + 1} trials, "
          f"old model booted {seen['old']}, new {seen['new']}")


@pytest.mark.parametrize("fat", [False, True], ids=["rename-replaces", "fat-no-replace"])
def test_power_cut_during_a_rollback_still_rolls_back(board, monkeypatch, fat):
    import shutil

    root, key = board
    install(root, B.build_bundle(TREES, counter=1, key=key, version="old"))
    S.confirm(root)
    install(root, B.build_bundle(CNN, counter=2, key=key, version="new"))
    S.app_config({"model": "@slots/x"}, root)  # the candidate's one start: it never confirms
    snapshot = Path(root).parent / "snapshot"
    shutil.copytree(root, snapshot)
    for cut in range(0, 50):
        shutil.rmtree(root)
        shutil.copytree(snapshot, root)
        _cut_after(monkeypatch, cut, fat)
        try:
            S.recover(root)  # main.py at boot
            finished = True
        except Reset:
            finished = False
        monkeypatch.undo()
        assert _boot_and_selftest(root) == ("a", "old"), f"cut after {cut} writes"
        if finished:
            break
    assert cut > 1
