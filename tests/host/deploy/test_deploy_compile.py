"""mpy-cross compilation through the cache, and the firmware file list."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edgeloop.errors import DeployError
from edgeloop.deploy.firmware import board_arch, firmware_files
from edgeloop.deploy.mpy import CompileStats, compile_source, mpy_cross_binary, mpy_header, needs_native

VIPER = b"import micropython\n\n@micropython.viper\ndef add(x: int) -> int:\n    return x + 1\n"


def reference_mpy(tmp_path: Path, source: bytes, name: str, *extra: str) -> bytes:
    """mpy-cross run by hand, the way its README shows."""
    src = tmp_path / "ref.py"
    src.write_bytes(source)
    out = tmp_path / "ref.mpy"
    subprocess.run([mpy_cross_binary(), "-s", name, "-o", str(out), *extra, str(src)], check=True)
    return out.read_bytes()


def test_compile_matches_mpy_cross_and_is_cached(tmp_path):
    cache = tmp_path / "cache"
    source = b"VERSION = '1'\ndef f(x):\n    return x * 2\n"
    stats = CompileStats()
    first = compile_source(source, "edgeloop_fw/x.py", cache_dir=cache, stats=stats)
    again = compile_source(source, "edgeloop_fw/x.py", cache_dir=cache, stats=stats)
    assert first == again == reference_mpy(tmp_path, source, "edgeloop_fw/x.py")
    assert (stats.compiled, stats.cached) == (1, 1)
    header = mpy_header(first)
    assert (header["version"], header["arch"]) == (6, 0)
    # A changed source, name or arch is a different entry, never a stale hit.
    compile_source(source + b"\n", "edgeloop_fw/x.py", cache_dir=cache, stats=stats)
    compile_source(source, "edgeloop_fw/y.py", cache_dir=cache, stats=stats)
    compile_source(source, "edgeloop_fw/x.py", arch="armv6m", cache_dir=cache, stats=stats)
    assert stats.compiled == 4


def test_native_code_needs_march(tmp_path):
    assert needs_native("edgeloop_fw/k.py", VIPER)
    assert needs_native("edgeloop_fw/viper/dot.py", b"x = 1\n")
    assert not needs_native("edgeloop_fw/k.py", b"# mentions micropython.viper in a comment\n")
    data = compile_source(VIPER, "edgeloop_fw/k.py", arch="armv6m", cache_dir=tmp_path)
    assert data == reference_mpy(tmp_path, VIPER, "edgeloop_fw/k.py", "-march=armv6m")
    header = mpy_header(data)
    assert (header["version"], header["sub"], header["arch"]) == (6, 3, 4)  # 4 = armv6m
    with pytest.raises(DeployError, match="mpy-cross cannot compile edgeloop_fw/k.py"):
        compile_source(VIPER, "edgeloop_fw/k.py", cache_dir=tmp_path)


ASM = b"import micropython\n\n@micropython.asm_xtensa\ndef f(a2):\n    addi(a2, a2, 1)\n"


def test_xtensa_assembler_goes_only_to_xtensa_boards(tmp_path):
    """An asm_xtensa file is machine code for one family: mpy-cross refuses it for an ARM
    arch, so deploy ships it to an xtensawin board only and leaves it out elsewhere."""
    assert needs_native("edgeloop_fw/k.py", ASM)
    assert mpy_header(compile_source(ASM, "edgeloop_fw/k.py", arch="xtensawin", cache_dir=tmp_path))["arch"] == 10
    with pytest.raises(DeployError):
        compile_source(ASM, "edgeloop_fw/k.py", arch="armv6m", cache_dir=tmp_path)
    fw = make_fw(tmp_path)
    (fw / "edgeloop_fw" / "asm.py").write_bytes(ASM)
    names = {arch: {f.remote for f in firmware_files(fw, arch=arch, cache_dir=tmp_path / "c")[0]}
             for arch in ("xtensawin", "armv6m")}
    assert "/lib/edgeloop_fw/asm.mpy" in names["xtensawin"]
    assert "/lib/edgeloop_fw/asm.mpy" not in names["armv6m"]
    assert "/lib/edgeloop_fw/kern.mpy" in names["armv6m"]  # the rest of the tree is unaffected
    _, skipped = firmware_files(fw, arch=None, cache_dir=tmp_path / "c")
    assert any(src.endswith("asm.py") for src, _why in skipped)  # no native emitter: said, as for viper


def test_syntax_error_names_the_file(tmp_path):
    with pytest.raises(DeployError, match=r"edgeloop_fw/bad.py.*SyntaxError.*line 2|edgeloop_fw/bad.py.*line 2"):
        compile_source(b"x = 1\ndef (:\n", "edgeloop_fw/bad.py", cache_dir=tmp_path)


def make_fw(tmp_path: Path) -> Path:
    fw = tmp_path / "firmware"
    (fw / "edgeloop_fw" / "viper").mkdir(parents=True)
    (fw / "edgeloop_fw" / "__init__.py").write_text("__version__ = '9.9'\n")
    (fw / "edgeloop_fw" / "kern.py").write_bytes(VIPER)
    (fw / "edgeloop_fw" / "viper" / "dot.py").write_text("x = 1\n")
    (fw / "edgeloop_fw" / "table.bin").write_bytes(b"\x00\x01")
    (fw / "edgeloop_fw" / "__pycache__").mkdir()
    (fw / "edgeloop_fw" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (fw / "main.py").write_text("import edgeloop_fw\n")
    return fw


def test_firmware_files_layout(tmp_path):
    fw = make_fw(tmp_path)
    files, skipped = firmware_files(fw, arch=None, cache_dir=tmp_path / "c")
    by_path = {f.remote: f for f in files}
    assert set(by_path) == {"/boot.py", "/main.py", "/lib/edgeloop_fw/__init__.mpy", "/lib/edgeloop_fw/table.bin"}
    assert by_path["/boot.py"].data.startswith(b"# edgeloop: finish a deploy")
    assert by_path["/main.py"].data == b"import edgeloop_fw\n"
    assert sorted(s for s, _ in skipped) == ["firmware/edgeloop_fw/kern.py", "firmware/edgeloop_fw/viper/dot.py"]
    files, skipped = firmware_files(fw, arch="armv7emdp", cache_dir=tmp_path / "c")
    assert not skipped
    kern = next(f for f in files if f.remote == "/lib/edgeloop_fw/kern.mpy")
    assert mpy_header(kern.data)["arch"] == 8  # armv7emdp
    src_files, _ = firmware_files(fw, arch=None, source_only=True)
    assert "/lib/edgeloop_fw/__init__.py" in {f.remote for f in src_files}


def test_board_abi_checks():
    mp = {"name": "micropython", "version": (1, 27, 0)}
    assert board_arch({**mp, "mpy": 774}, source_only=False) is None  # the virtual board: 6.3, no arch
    assert board_arch({**mp, "mpy": 6 | 3 << 8 | 4 << 10}, source_only=False) == "armv6m"
    with pytest.raises(DeployError, match="ABI 6.2 .* writes 6.3"):
        board_arch({**mp, "mpy": 6 | 2 << 8 | 10 << 10}, source_only=False)
    with pytest.raises(DeployError, match="--source"):
        board_arch({"name": "circuitpython", "version": (9, 2, 0), "mpy": None}, source_only=False)
    assert board_arch({"name": "circuitpython", "version": (9, 2, 0), "mpy": None}, source_only=True) is None
