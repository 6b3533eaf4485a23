"""Deploy on the virtual board (real MicroPython): content, diffing, compression, bad input,
and interruptions. The board's filesystem is a host folder (flash_dir), so what landed is
checked with plain file reads, independently of edgeloop's own hashing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.deploy.plan import deploy_files, open_session
from edgeloop.link.device import Device
from edgeloop.errors import DeployError, EdgeloopError, NotEnoughSpace
from edgeloop.deploy.firmware import deploy_firmware
from edgeloop.deploy.mpy import compile_source
from edgeloop.resources import firmware_dir
from edgeloop.link.transfer import BoardSession
from tests.tools.paths import REPO

pytestmark = pytest.mark.sim
pytest.importorskip("edgeloop.sim", reason="the virtual board (edgeloop.sim) is not in this checkout yet")


def on_board(vb, remote: str) -> Path:
    return Path(vb.flash_dir) / remote.lstrip("/")


def small_fw(tmp_path: Path, version: str = "1", extra: int = 0) -> Path:
    fw = tmp_path / f"fw{version}"
    (fw / "edgeloop_fw").mkdir(parents=True)
    (fw / "edgeloop_fw" / "__init__.py").write_text(f"__version__ = {version!r}\n")
    for i in range(4):
        body = f"NAME = 'mod{i} v{version}'\n" + "".join(f"def f{j}(x):\n    return x + {j}\n" for j in range(30 + extra))
        (fw / "edgeloop_fw" / f"mod{i}.py").write_text(body)
    (fw / "main.py").write_text(f"import edgeloop_fw\nprint('app', edgeloop_fw.__version__)\n")
    return fw


def test_firmware_lands_compiled_and_imports(virtual_board, tmp_path):
    vb = virtual_board
    with Device(vb.port) as dev:
        first = deploy_firmware(dev, board="rp2040", cache_dir=tmp_path / "cache")
        assert first.sent and not first.unchanged
        fw = firmware_dir()
        for src in (fw / "edgeloop_fw").rglob("*.py"):
            rel = src.relative_to(fw).as_posix()
            target = on_board(vb, f"/lib/{rel[:-3]}.mpy")
            if "viper" in rel or b"@micropython.viper" in src.read_bytes() or b"@micropython.native" in src.read_bytes() \
                    or rel.startswith("edgeloop_fw/runtime/native/"):
                assert not target.exists()  # no native emitter, no native module on the virtual board
                continue
            assert target.read_bytes() == compile_source(src.read_bytes(), rel, cache_dir=tmp_path / "ref")
        assert on_board(vb, "/boot.py").read_bytes().startswith(b"# edgeloop: finish a deploy")
        manifest = json.loads(on_board(vb, "/.edgeloop/manifest.json").read_text())
        assert manifest["board"] == "rp2040" and manifest["mpy"] == 774
        assert not on_board(vb, "/.edgeloop/stage").exists()
        assert dev.eval("__import__('edgeloop_fw').__name__") == "edgeloop_fw"
        again = deploy_firmware(dev, board="rp2040", cache_dir=tmp_path / "cache")
        assert again.sent == [] and again.hashed_on_board == 0


def test_only_changed_files_are_sent_and_old_ones_pruned(virtual_board, tmp_path):
    vb = virtual_board
    v1 = small_fw(tmp_path, "1")
    with Device(vb.port) as dev:
        deploy_firmware(dev, fw_dir=v1, cache_dir=tmp_path / "c")
        (v1 / "edgeloop_fw" / "mod2.py").write_text("NAME = 'changed'\n")
        (v1 / "edgeloop_fw" / "mod3.py").unlink()
        r = deploy_firmware(dev, fw_dir=v1, cache_dir=tmp_path / "c")
        assert r.sent == ["/lib/edgeloop_fw/mod2.mpy"]
        assert r.removed == ["/lib/edgeloop_fw/mod3.mpy"]
        assert not on_board(vb, "/lib/edgeloop_fw/mod3.mpy").exists()
        assert dev.eval("__import__('edgeloop_fw.mod2').mod2.NAME") == "changed"


@pytest.mark.parametrize("compress", [True, False], ids=["deflate", "raw"])
def test_bytes_survive_both_encodings(virtual_board, compress):
    vb = virtual_board
    rng = random.Random(5)
    files = {
        "/data/text.py": (REPO / "host" / "edgeloop" / "deploy" / "plan.py").read_bytes() * 3,
        "/data/noise.bin": rng.randbytes(70_000),
        "/data/every_byte.bin": bytes(range(256)) * 17,
        "/data/empty": b"",
        "/data/deep/er/one.txt": b"x",
    }
    with Device(vb.port) as dev:
        r = deploy_files(dev, [(d, p) for p, d in files.items()], compress=compress)
        assert r.compressed is (compress and r.info.get("inflate") is not None)
    for remote, data in files.items():
        assert on_board(vb, remote).read_bytes() == data
    if compress:
        # Sent raw, every byte costs 2 characters as hex (the virtual board) or 4/3 as base64;
        # the text must shrink enough to pull the whole exchange well under that.
        per_byte = 2.0 if r.info.get("platform") == "webassembly" else 4 / 3
        assert r.wire_bytes < r.bytes_sent * per_byte * 0.9


def test_missing_manifest_is_rebuilt_by_hashing_on_board(virtual_board):
    vb = virtual_board
    files = [(b"a" * 3000, "/x/a.bin"), (b"b" * 10, "/x/b.bin")]
    with Device(vb.port) as dev:
        deploy_files(dev, files)
        # The running board keeps its filesystem in memory: delete through the board.
        dev.exec("import os; os.remove('/.edgeloop/manifest.json')")
        assert not on_board(vb, "/.edgeloop/manifest.json").exists()
        r = deploy_files(dev, files)
    assert r.sent == [] and r.hashed_on_board == 2
    assert on_board(vb, "/.edgeloop/manifest.json").exists()


def test_cli_deploy_and_up_to_date(virtual_board, tmp_path):
    fw = small_fw(tmp_path)
    runner = CliRunner()
    env = {"EDGELOOP_CACHE_DIR": str(tmp_path / "cache")}
    first = runner.invoke(cli, ["deploy", "--port", virtual_board.port, "--board", "rp2040",
                                "--firmware-dir", str(fw)], env=env)
    assert first.exit_code == 0, first.output
    assert "deployed 7 file(s)" in first.output
    second = runner.invoke(cli, ["deploy", "--port", virtual_board.port, "--firmware-dir", str(fw)], env=env)
    assert second.exit_code == 0 and "up to date" in second.output


def test_not_enough_space_touches_nothing(virtual_board, tmp_path):
    vb = virtual_board
    with Device(vb.port) as dev:
        info = open_session(dev).space()
        free = info.get("free")
        if free is None or free > 64 * 2**20:
            pytest.skip(f"the virtual board reports {free} bytes free: not capped like a real filesystem")
        before = sorted(p.relative_to(vb.flash_dir) for p in Path(vb.flash_dir).rglob("*"))
        model = tmp_path / "huge.tflite"
        model.write_bytes(b"\0" * (free + 4096))
        with pytest.raises(NotEnoughSpace, match=f"{free:,} free"):
            deploy_firmware(dev, models=[model], fw_dir=small_fw(tmp_path))
    assert sorted(p.relative_to(vb.flash_dir) for p in Path(vb.flash_dir).rglob("*")) == before
    result = CliRunner().invoke(cli, ["deploy", "--port", vb.port, "--model", str(model),
                                      "--firmware-dir", str(small_fw(tmp_path, "2"))])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "not enough space" in result.output


def app_state(vb) -> dict:
    out = {}
    for p in sorted(Path(vb.flash_dir).rglob("*")):
        rel = p.relative_to(vb.flash_dir).as_posix()
        if p.is_file() and not rel.startswith(".edgeloop/"):
            out[rel] = p.read_bytes()
    return out


def test_board_vanishes_mid_deploy(virtual_board_factory, tmp_path):
    flash = tmp_path / "flash"
    vb = virtual_board_factory(flash_dir=flash)
    old = [(bytes([i]) * 20_000, f"/app/f{i}.bin") for i in range(5)]
    with Device(vb.port) as dev:
        deploy_files(dev, old)
    before = app_state(vb)

    def unplug(done, total, label):
        if done > 0:
            vb.stop()

    new = [(random.Random(i).randbytes(20_000), f"/app/f{i}.bin") for i in range(5)]
    with Device(vb.port) as dev:
        with pytest.raises(EdgeloopError) as err:
            deploy_files(dev, new, progress=unplug)
    assert "\n" not in str(err.value) and "previous app" in str(err.value)
    vb2 = virtual_board_factory(flash_dir=flash)
    assert app_state(vb2) == before
    with Device(vb2.port) as dev:
        r = deploy_files(dev, new)
    assert len(r.sent) == 5 and not (flash / ".edgeloop" / "stage").exists()


def test_host_killed_mid_transfer_keeps_previous_app(virtual_board, tmp_path):
    vb = virtual_board
    v1 = small_fw(tmp_path, "1")
    env = {**os.environ, "EDGELOOP_CACHE_DIR": str(tmp_path / "cache")}
    edgeloop = [sys.executable, "-m", "edgeloop.cli", "deploy", "--port", vb.port]
    subprocess.run(edgeloop + ["--firmware-dir", str(v1)], check=True, env=env, capture_output=True)
    before = app_state(vb)
    big = small_fw(tmp_path, "2", extra=400)
    (big / "edgeloop_fw" / "weights.bin").write_bytes(random.Random(1).randbytes(400_000))
    proc = subprocess.Popen(edgeloop + ["--firmware-dir", str(big), "--no-compress"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stage = Path(vb.flash_dir) / ".edgeloop" / "stage"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (stage.exists() and any(stage.iterdir())):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (Path(vb.flash_dir) / ".edgeloop" / "journal.json").exists(), "killed too late to test staging"
    assert app_state(vb) == before
    done = subprocess.run(edgeloop + ["--firmware-dir", str(big)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not stage.exists()
    assert (Path(vb.flash_dir) / "lib/edgeloop_fw/weights.bin").read_bytes() == \
        (big / "edgeloop_fw" / "weights.bin").read_bytes()


class _Reset(Exception):
    pass


@pytest.mark.parametrize("moves_done", [0, 2, "all-but-manifest"])
def test_reset_mid_rename_is_finished_by_boot_hook(virtual_board, tmp_path, monkeypatch, moves_done):
    vb = virtual_board
    v1, v2 = small_fw(tmp_path, "1"), small_fw(tmp_path, "2")
    with Device(vb.port) as dev:
        deploy_firmware(dev, fw_dir=v1, cache_dir=tmp_path / "c")
        real_call = BoardSession.call

        def reset_at_commit(self, code, **kw):
            if "el_apply" in code:  # the commit's roll-forward (recovery at open is _el_session)
                raise _Reset()
            return real_call(self, code, **kw)

        monkeypatch.setattr(BoardSession, "call", reset_at_commit)
        with pytest.raises(_Reset):
            deploy_firmware(dev, fw_dir=v2, cache_dir=tmp_path / "c")
        monkeypatch.setattr(BoardSession, "call", real_call)
    flash = Path(vb.flash_dir)
    journal = json.loads((flash / ".edgeloop/journal.json").read_text())
    # The board got this far through the rename phase before the reset.
    n = len(journal["moves"]) if moves_done == "all-but-manifest" else moves_done
    for src, dst in journal["moves"][:n]:
        (flash / dst.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        os.replace(flash / src.lstrip("/"), flash / dst.lstrip("/"))
    vb.restart()  # boot.py runs the hook
    deadline = time.monotonic() + 10
    while (flash / ".edgeloop/journal.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (flash / ".edgeloop/journal.json").exists(), "boot.py did not finish the deploy"
    with Device(vb.port) as dev:
        assert dev.eval("__import__('edgeloop_fw').__version__") == "2"
        for i in range(4):
            assert dev.eval(f"__import__('edgeloop_fw.mod{i}').mod{i}.NAME") == f"mod{i} v2"
        r = deploy_firmware(dev, fw_dir=v2, cache_dir=tmp_path / "c")
        assert r.sent == [] and r.recovered == 0


def test_cli_board_killed_mid_deploy_is_one_line(virtual_board_factory, tmp_path):
    """The board's process dies (cable pulled) while files are staged: one line, old app kept."""
    import threading

    flash = tmp_path / "flash"
    vb = virtual_board_factory(flash_dir=flash)
    env = {"EDGELOOP_CACHE_DIR": str(tmp_path / "cache")}
    runner = CliRunner()
    first = runner.invoke(cli, ["deploy", "-p", vb.port, "--firmware-dir", str(small_fw(tmp_path, "1"))], env=env)
    assert first.exit_code == 0, first.output
    before = app_state(vb)
    big = small_fw(tmp_path, "2")
    (big / "edgeloop_fw" / "weights.bin").write_bytes(random.Random(3).randbytes(300_000))
    stage = flash / ".edgeloop" / "stage"

    def pull_the_cable():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (stage.exists() and any(stage.iterdir())):
            time.sleep(0.002)
        os.kill(vb.pid, signal.SIGKILL)

    killer = threading.Thread(target=pull_the_cable)
    killer.start()
    result = runner.invoke(cli, ["deploy", "-p", vb.port, "--firmware-dir", str(big), "--no-compress"], env=env)
    killer.join()
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(lines) == 1 and "previous app" in lines[0], lines
    vb2 = virtual_board_factory(flash_dir=flash)  # plugged back in: boots what was there
    with Device(vb2.port) as dev:
        assert dev.eval("__import__('edgeloop_fw').__version__") == "1"
    assert app_state(vb2) == before


def test_host_killed_after_commit_board_boots_the_new_app(virtual_board, tmp_path):
    vb = virtual_board
    env = {**os.environ, "EDGELOOP_CACHE_DIR": str(tmp_path / "cache")}
    edgeloop = [sys.executable, "-m", "edgeloop.cli", "deploy", "--port", vb.port]
    v1, v2 = small_fw(tmp_path, "1"), small_fw(tmp_path, "2", extra=200)
    subprocess.run(edgeloop + ["--firmware-dir", str(v1)], check=True, env=env, capture_output=True)
    subprocess.run(edgeloop + ["--firmware-dir", str(v2)], check=True, env=env, capture_output=True)
    want_new = app_state(vb)
    subprocess.run(edgeloop + ["--firmware-dir", str(v1)], check=True, env=env, capture_output=True)
    proc = subprocess.Popen(edgeloop + ["--firmware-dir", str(v2)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = Path(vb.flash_dir) / ".edgeloop" / "journal.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not journal.exists() and proc.poll() is None:
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if not journal.exists():
        pytest.skip("the deploy finished its commit before the kill landed (timing); nothing to recover")
    vb.restart()  # the boot.py hook rolls the committed deploy forward before main.py
    deadline = time.monotonic() + 10
    while journal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not journal.exists(), "boot.py did not finish the committed deploy"
    assert app_state(vb) == want_new
    with Device(vb.port) as dev:
        assert dev.eval("__import__('edgeloop_fw').__version__") == "2"


@pytest.mark.slow
def test_power_cut_at_every_exec_leaves_old_or_new_app(virtual_board_factory, tmp_path, monkeypatch):
    """Kill the board's process a moment after each exec of a deploy is sent (a power cut at any
    step, staging or commit); after the next boot the app is exactly the old one or the new one."""
    import threading

    import edgeloop.link.device as device_mod

    flash = tmp_path / "flash"
    v1, v2 = small_fw(tmp_path, "1"), small_fw(tmp_path, "2", extra=60)
    (v1 / "edgeloop_fw" / "old_only.py").write_text("GONE = 1\n")  # pruned by the new deploy
    cache = tmp_path / "c"
    vb = virtual_board_factory(flash_dir=flash)
    with Device(vb.port) as dev:
        deploy_firmware(dev, fw_dir=v2, cache_dir=cache)
    new = app_state(vb)
    with Device(vb.port) as dev:
        deploy_firmware(dev, fw_dir=v1, cache_dir=cache)
    old = app_state(vb)
    vb.stop()
    snapshot = tmp_path / "snapshot"
    shutil.copytree(flash, snapshot)

    real_exec = device_mod.Device.exec
    seen = {"old": 0, "new": 0}
    cut = 0
    while True:
        cut += 1
        shutil.rmtree(flash)
        shutil.copytree(snapshot, flash)
        vb = virtual_board_factory(flash_dir=flash)
        calls = {"n": 0}

        def exec_then_cut(self, code, **kw):
            calls["n"] += 1
            if calls["n"] == cut:
                threading.Timer(0.003, os.kill, (vb.pid, signal.SIGKILL)).start()
            return real_exec(self, code, **kw)

        monkeypatch.setattr(device_mod.Device, "exec", exec_then_cut)
        try:
            with Device(vb.port) as dev:
                deploy_firmware(dev, fw_dir=v2, cache_dir=cache)
            finished = True
        except EdgeloopError:
            finished = False
        monkeypatch.setattr(device_mod.Device, "exec", real_exec)
        vb.stop()
        vb = virtual_board_factory(flash_dir=flash)  # power back on: boot.py runs
        with Device(vb.port) as dev:  # answers once boot.py (and its roll-forward) is done
            version = dev.eval("__import__('edgeloop_fw').__version__")
        state = app_state(vb)
        assert state in (old, new), (f"a cut at exec {cut} left a mix of old and new files: "
                                     f"old {sorted(k for k in state if state[k] == old.get(k))}, "
                                     f"new {sorted(k for k in state if state[k] == new.get(k))}, "
                                     f"missing {sorted(set(old) | set(new) - set(state))}")
        assert not (flash / ".edgeloop/journal.json").exists()
        seen["old" if state == old else "new"] += 1
        assert version == ("1" if state == old else "2")
        vb.stop()
        if finished:
            break
        assert cut < 40, "the deploy never finished"
    assert seen["old"] and seen["new"], seen


def test_a_roll_forward_short_of_heap_is_finished_after_a_soft_reset(virtual_board, tmp_path):
    """An app the deploy interrupted can hold the heap the commit's moves need (the board's
    MemoryError here is real: the REPL holds a hog that leaves the roll-forward too little).
    The deploy soft-resets the board, which frees it, and finishes the journal."""
    vb = virtual_board
    v1, v2 = small_fw(tmp_path, "1"), small_fw(tmp_path, "2")
    with Device(vb.port) as dev:
        deploy_firmware(dev, fw_dir=v1, cache_dir=tmp_path / "c")
        real_call = BoardSession.call
        hogged = []

        def hog_before_apply(self, code, **kw):
            if "el_apply" in code and not hogged:
                # everything the heap has left but a few hundred bytes, held in the REPL's globals
                self.device.exec("import gc\ngc.collect()\n_hog = []\n"
                                 "while True:\n    try:\n        _hog.append(bytearray(2048))\n"
                                 "    except MemoryError:\n        break\n"
                                 "while True:\n    try:\n        _hog.append(bytearray(64))\n"
                                 "    except MemoryError:\n        break\n")
                hogged.append(True)
            return real_call(self, code, **kw)

        BoardSession.call = hog_before_apply
        try:
            result = deploy_firmware(dev, fw_dir=v2, cache_dir=tmp_path / "c")
        finally:
            BoardSession.call = real_call
        assert hogged and result.sent
        assert dev.eval("__import__('edgeloop_fw').__version__") == "2"
    flash = Path(vb.flash_dir)
    assert not (flash / ".edgeloop/journal.json").exists() and not (flash / ".edgeloop/stage").exists()
