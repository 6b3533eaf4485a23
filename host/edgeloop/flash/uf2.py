"""UF2 files: write, read back and validate against the format spec
(github.com/microsoft/uf2, README "File format").

A UF2 file is a run of 512-byte blocks, each self-describing (magics, flags,
target address, payload, block number, count, family ID), so a bootloader can
take them in any order. Validation happens on the host before a single byte
reaches the RPI-RP2 drive: the RP2040 bootrom silently ignores blocks it does
not like, and a user would only see a board that never comes back.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import FlashError

BLOCK_SIZE = 512
MAGIC_START0 = 0x0A324655  # "UF2\n"
MAGIC_START1 = 0x9E5D5157
MAGIC_END = 0x0AB16F30
FLAG_NOT_MAIN_FLASH = 0x00000001
FLAG_FILE_CONTAINER = 0x00001000
FLAG_FAMILY_ID_PRESENT = 0x00002000
FLAG_MD5_PRESENT = 0x00004000
FLAG_EXTENSION_TAGS = 0x00008000
MAX_PAYLOAD = 476  # 512 - 32 header - 4 final magic

# A few family IDs from the spec's families list, to name what a wrong file is for.
FAMILIES = {
    0xE48BFF56: "RP2040", 0xE48BFF59: "RP2350 (ARM, secure)", 0xE48BFF5B: "RP2350 (ARM, non-secure)",
    0xC47E5767: "ESP32-S3", 0xBFDD4EEE: "ESP32-S2", 0xD42BA06C: "ESP32-C3", 0x1C5F21B0: "ESP32",
    0x6DB66082: "STM32H7", 0x57755A57: "STM32F4", 0xADA52840: "nRF52840", 0x68ED2B88: "SAMD21",
    0x55114460: "SAMD51",
}
RP2040_FAMILY = 0xE48BFF56

_HEADER = struct.Struct("<8I")  # magic0 magic1 flags addr size blockno nblocks family/filesize
_END = struct.Struct("<I")


@dataclass(frozen=True)
class Block:
    flags: int
    address: int
    payload: bytes
    block_no: int
    num_blocks: int
    family_id: int | None  # None when the block carries a file size instead


def family_name(family_id: int | None) -> str:
    if family_id is None:
        return "no family ID"
    return f"0x{family_id:08x} ({FAMILIES.get(family_id, 'unknown family')})"


def write(data: bytes, base: int, family_id: int, payload_size: int = 256) -> bytes:
    """Pack a flash image starting at `base` into UF2 blocks (256-byte payloads: what the
    RP2040 bootrom requires and what every UF2 bootloader accepts)."""
    if not 0 < payload_size <= MAX_PAYLOAD or payload_size % 4:
        raise ValueError(f"payload size {payload_size} must be a multiple of 4 in 4..{MAX_PAYLOAD}")
    chunks = [data[i:i + payload_size] for i in range(0, len(data), payload_size)] or [b""]
    out = bytearray()
    for n, chunk in enumerate(chunks):
        chunk = chunk.ljust(payload_size, b"\x00")
        out += _HEADER.pack(MAGIC_START0, MAGIC_START1, FLAG_FAMILY_ID_PRESENT, base + n * payload_size,
                            payload_size, n, len(chunks), family_id)
        out += chunk.ljust(MAX_PAYLOAD, b"\x00")
        out += _END.pack(MAGIC_END)
    return bytes(out)


def read(raw: bytes, name: str = "the UF2 file") -> list[Block]:
    """Parse every block, checking the framing (size, the three magics, payload size)."""
    if not raw:
        raise FlashError(f"{name} is empty; download the firmware again")
    if len(raw) % BLOCK_SIZE:
        raise FlashError(f"{name} is {len(raw)} bytes, not a whole number of 512-byte UF2 blocks "
                         "(truncated download?); download it again")
    blocks = []
    for i in range(0, len(raw), BLOCK_SIZE):
        m0, m1, flags, addr, size, no, count, fam = _HEADER.unpack_from(raw, i)
        (end,) = _END.unpack_from(raw, i + BLOCK_SIZE - 4)
        where = f"{name}: block at byte {i}"
        if (m0, m1, end) != (MAGIC_START0, MAGIC_START1, MAGIC_END):
            raise FlashError(f"{where} has no UF2 magic numbers; this is not a UF2 file "
                             "(for an RP2040 use the .uf2 download, not .bin/.elf)")
        if size > MAX_PAYLOAD:
            raise FlashError(f"{where} claims a {size}-byte payload (at most {MAX_PAYLOAD}); the file is corrupt")
        payload = raw[i + 32:i + 32 + size]
        blocks.append(Block(flags, addr, payload, no, count,
                            fam if flags & FLAG_FAMILY_ID_PRESENT else None))
    return blocks


def validate(raw: bytes, *, family_id: int, flash_base: int, flash_size: int,
             name: str = "the UF2 file") -> list[Block]:
    """Refuse a UF2 the board would not boot: wrong family, addresses outside its flash,
    broken numbering, or (RP2040) payloads its bootrom ignores. Returns the flash blocks."""
    blocks = read(raw, name)
    flash = [b for b in blocks if not b.flags & FLAG_NOT_MAIN_FLASH]
    if not flash:
        raise FlashError(f"{name} has no blocks for main flash; it is not a firmware image")
    families = {b.family_id for b in flash}
    if families != {family_id}:
        found = ", ".join(sorted(family_name(f) for f in families))
        raise FlashError(f"{name} is for {found}, but this board needs {family_name(family_id)}; "
                         "download the firmware built for this board")
    counts = {b.num_blocks for b in blocks}
    if len(counts) != 1:
        raise FlashError(f"{name}: blocks disagree on the block count ({sorted(counts)}); the file is corrupt")
    (count,) = counts
    numbers = sorted(b.block_no for b in blocks)
    if numbers != list(range(count)):
        missing = sorted(set(range(count)) - set(numbers))[:5]
        raise FlashError(f"{name}: block numbers are not 0..{count - 1} exactly once "
                         f"(missing {missing or 'none'}, {len(numbers)} blocks); truncated or corrupt, download again")
    end = flash_base + flash_size
    spans = []
    for b in flash:
        if not (flash_base <= b.address and b.address + len(b.payload) <= end):
            raise FlashError(f"{name}: block {b.block_no} targets 0x{b.address:08x}, outside the board's flash "
                             f"0x{flash_base:08x}-0x{end:08x}; this firmware is for a different board")
        if family_id == RP2040_FAMILY and (len(b.payload) != 256 or b.address % 256):
            raise FlashError(f"{name}: block {b.block_no} has a {len(b.payload)}-byte payload at 0x{b.address:08x}; "
                             "the RP2040 bootrom only takes 256-byte, 256-aligned payloads and would skip it")
        spans.append((b.address, b.address + len(b.payload), b.block_no))
    spans.sort()
    for (s0, e0, n0), (s1, _, n1) in zip(spans, spans[1:]):
        if s1 < e0:
            raise FlashError(f"{name}: blocks {n0} and {n1} overlap at 0x{s1:08x}; the file is corrupt")
    return flash


def to_image(blocks: list[Block], fill: int = 0xFF) -> tuple[int, bytes]:
    """The flash contents the blocks describe: (start address, bytes), gaps filled as erased flash."""
    flash = [b for b in blocks if not b.flags & FLAG_NOT_MAIN_FLASH]
    start = min(b.address for b in flash)
    end = max(b.address + len(b.payload) for b in flash)
    image = bytearray([fill]) * (end - start)
    for b in flash:
        image[b.address - start:b.address - start + len(b.payload)] = b.payload
    return start, bytes(image)


def summary(blocks: list[Block]) -> str:
    start, image = to_image(blocks)
    return f"{len(blocks)} blocks, {len(image)} bytes at 0x{start:08x}, family {family_name(blocks[0].family_id)}"
