"""UF2 and DfuSe images: checked against the formats' specs and against files made by
independent tools (esptool's UF2Writer, dfu-util's dfu-suffix)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib

import pytest

from edgeloop.boards import profiles as boards
from edgeloop.errors import FlashError
from edgeloop.flash import dfu, uf2

RP2040 = 0xE48BFF56
ESP32S3 = 0xC47E5767


def test_uf2_block_layout_matches_spec_by_hand():
    """One 512-byte block, fields at the offsets the spec's table gives."""
    raw = uf2.write(b"\xAA" * 256, 0x10000000, RP2040)
    assert len(raw) == 512
    assert raw[0:4] == b"UF2\n"                                   # magic start 0 = 0x0A324655
    assert struct.unpack_from("<I", raw, 4)[0] == 0x9E5D5157      # magic start 1
    assert struct.unpack_from("<I", raw, 8)[0] == 0x00002000      # flags: familyID present
    assert struct.unpack_from("<I", raw, 12)[0] == 0x10000000     # target address
    assert struct.unpack_from("<I", raw, 16)[0] == 256            # payload size
    assert struct.unpack_from("<I", raw, 20)[0] == 0              # block number
    assert struct.unpack_from("<I", raw, 24)[0] == 1              # number of blocks
    assert struct.unpack_from("<I", raw, 28)[0] == 0xE48BFF56     # family ID
    assert raw[32:288] == b"\xAA" * 256 and raw[288:508] == bytes(220)
    assert struct.unpack_from("<I", raw, 508)[0] == 0x0AB16F30    # magic end


def test_uf2_roundtrip():
    data = bytes(range(256)) * 40 + b"tail"
    raw = uf2.write(data, 0x10000000, RP2040)
    blocks = uf2.validate(raw, family_id=RP2040, flash_base=0x10000000, flash_size=2 << 20)
    assert len(blocks) == 41
    start, image = uf2.to_image(blocks)
    assert start == 0x10000000 and image[:len(data)] == data


def test_uf2_reads_esptool_writer_output(tmp_path):
    """esptool's own UF2 writer (an independent implementation) produces files we parse identically."""
    from esptool.uf2_writer import UF2Writer

    data = bytes((i * 7) & 0xFF for i in range(5000))
    out = tmp_path / "esptool.uf2"
    with UF2Writer(ESP32S3, str(out), chunk_size=None, md5_enabled=False) as w:
        w.add_file(0x1000, data)
    blocks = uf2.validate(out.read_bytes(), family_id=ESP32S3, flash_base=0, flash_size=8 << 20)
    start, image = uf2.to_image(blocks)
    assert start == 0x1000 and image[:len(data)] == data
    with pytest.raises(FlashError, match=r"ESP32-S3.*needs 0xe48bff56 \(RP2040\)"):
        uf2.validate(out.read_bytes(), family_id=RP2040, flash_base=0x10000000, flash_size=2 << 20)


def _bad(raw, **kw):
    args = dict(family_id=RP2040, flash_base=0x10000000, flash_size=2 << 20)
    args.update(kw)
    with pytest.raises(FlashError) as e:
        uf2.validate(raw, **args)
    return str(e.value)


def test_uf2_rejects_each_defect():
    good = bytearray(uf2.write(bytes(1024), 0x10000000, RP2040))
    assert "whole number" in _bad(bytes(good[:-1]))
    bad = bytearray(good); bad[0] ^= 1
    assert "no UF2 magic" in _bad(bytes(bad))
    bad = bytearray(good); struct.pack_into("<I", bad, 508, 0)
    assert "no UF2 magic" in _bad(bytes(bad))
    assert "0x10000000-0x10200000" in _bad(uf2.write(bytes(512), 0x20000000, RP2040))
    assert "needs 0xe48bff56" in _bad(uf2.write(bytes(512), 0x10000000, ESP32S3))
    assert "block numbers" in _bad(bytes(good[:512] + good[1024:]))          # block 1 missing
    bad = bytearray(good); struct.pack_into("<I", bad, 512 + 24, 9)         # count disagrees
    assert "block count" in _bad(bytes(bad))
    assert "256-byte" in _bad(uf2.write(bytes(512), 0x10000000, RP2040, payload_size=476 - 4))
    bad = bytearray(good); struct.pack_into("<I", bad, 512 + 12, 0x10000000)  # overlaps block 0
    assert "overlap" in _bad(bytes(bad))
    bad = bytearray(good); struct.pack_into("<I", bad, 8, 0)                 # no family flag
    assert "no family ID" in _bad(bytes(bad))


# -- DfuSe -----------------------------------------------------------------------

def _dfuse_body(elements, alt=0):
    """DfuSe prefix + one target, by hand from ST UM0391 (no suffix)."""
    elems = b"".join(struct.pack("<II", a, len(d)) + d for a, d in elements)
    target = struct.pack("<6sBI255sII", b"Target", alt, 1, b"ST...".ljust(255, b"\0"), len(elems), len(elements))
    body = target + elems
    return struct.pack("<5sBIB", b"DfuSe", 1, 11 + len(body), 1) + body


def _with_suffix(body, vid=0x2341, pid=0x035F):
    suffix = struct.pack("<HHHH3sB", 0xFFFF, pid, vid, 0x011A, b"UFD", 16)
    crc = ~zlib.crc32(body + suffix) & 0xFFFFFFFF
    return body + suffix + struct.pack("<I", crc)


@pytest.fixture
def nicla():
    return boards.load("nicla_vision")


def test_dfuse_parse_and_fit(tmp_path, nicla):
    path = tmp_path / "fw.dfu"
    path.write_bytes(_with_suffix(_dfuse_body([(0x08040000, b"\x11" * 1000)])))
    (e,) = dfu.check_image(path, nicla)
    assert (e.address, e.data, e.alt) == (0x08040000, b"\x11" * 1000, 0)
    assert dfu.command(path, nicla)[1:] == ["-w", "-d", "2341:035f", "-a", "0", "-D", str(path)]


@pytest.mark.skipif(not shutil.which("dfu-suffix"), reason="dfu-util's dfu-suffix is not installed (make setup)")
def test_dfu_suffix_written_by_dfu_util_is_accepted(tmp_path, nicla):
    """dfu-suffix (dfu-util) computes the suffix and CRC independently."""
    path = tmp_path / "fw.dfu"
    path.write_bytes(_dfuse_body([(0x08040000, bytes(range(256)) * 4)]))
    subprocess.run(["dfu-suffix", "-v", "2341", "-p", "035f", "-a", str(path)], check=True, capture_output=True)
    assert dfu.parse_suffix(path.read_bytes(), "fw.dfu")["pid"] == 0x035F
    assert len(dfu.check_image(path, nicla)) == 1
    raw = bytearray(path.read_bytes()); raw[400] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(FlashError, match="CRC"):
        dfu.check_image(path, nicla)


@pytest.mark.parametrize("elements, vid_pid, match", [
    ([(0x08000000, b"\0" * 64)], (0x2341, 0x035F), "protected region"),          # over the bootloader
    ([(0x08170000, b"\0" * 0x20000)], (0x2341, 0x035F), "outside nicla_vision's firmware slot"),  # into M4
    ([(0x08040000, b"\0" * 64)], (0x2341, 0x035B), "2341:035b"),                 # Portenta H7 image
])
def test_dfuse_refusals(tmp_path, nicla, elements, vid_pid, match):
    path = tmp_path / "fw.dfu"
    path.write_bytes(_with_suffix(_dfuse_body(elements), *vid_pid))
    with pytest.raises(FlashError, match=match):
        dfu.check_image(path, nicla)


def test_raw_bin_goes_to_slot_and_must_fit(tmp_path, nicla):
    path = tmp_path / "fw.bin"
    path.write_bytes(b"\0" * 1024)
    assert "-s" in dfu.command(path, nicla) and "0x08040000:leave" in dfu.command(path, nicla)
    path.write_bytes(b"\0" * (1310720 + 1))
    with pytest.raises(FlashError, match="holds 1310720"):
        dfu.check_image(path, nicla)
