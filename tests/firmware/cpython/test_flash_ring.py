"""The board's one flash ring (edgeloop_fw.flash_ring): free slots first, the oldest not in flight
overwritten, an in-flight slot never; keys from the record number or from the record itself; the
file read back by hand (slot layout as docs/firmware.md gives it)."""

from __future__ import annotations

import binascii
import struct

from edgeloop_fw.flash_ring import FlashRing

MAGIC = 0x5A5A


def _put(ring, value):
    ring.buf[10:14] = struct.pack("<I", value)
    return ring.put(4)


def _on_file(path, slot_size):
    """value -> record number of every whole slot, read with struct and binascii's CRC."""
    data, out = open(path, "rb").read(), {}
    for i in range(0, len(data), slot_size):
        magic, n, record, _r = struct.unpack_from("<HHIH", data, i)
        end = i + 10 + n
        if magic == MAGIC and struct.unpack_from("<H", data, end)[0] == binascii.crc_hqx(data[i:end], 0xFFFF):
            out[struct.unpack_from("<I", data, i + 10)[0]] = record
    return out


def test_in_flight_slots_are_never_overwritten_and_not_oldest(tmp_path):
    path = str(tmp_path / "r.bin")
    ring = FlashRing(path, 4 * 16, bytearray(16), MAGIC)
    slots = [_put(ring, v) for v in (100, 101, 102, 103)]
    assert slots == [0, 1, 2, 3] and ring.used == 4 and ring.lost == 0
    ring.mark(slots[0])  # 100 is being sent
    assert ring.oldest() == slots[1]
    _put(ring, 104)  # full: over the oldest not in flight (101), not 100
    assert _on_file(path, 16) == {100: 1, 104: 5, 102: 3, 103: 4} and ring.lost == 1
    for s in range(4):
        ring.mark(s)
    assert _put(ring, 105) == -1 and ring.lost == 2  # every slot in flight: the new record is the one lost
    ring.unmark(slots[0])
    assert ring.oldest() == slots[0]  # cut off: back in its place, the oldest
    ring.free(slots[2])
    assert _put(ring, 106) == slots[2]  # a free slot before any overwrite
    ring.close()
    again = FlashRing(path, 4 * 16, bytearray(16), MAGIC)  # after a reboot: same records, numbering goes on
    assert again.used == 4 and not any(again.busy) and again.next_record == 7
    order = []
    while (s := again.oldest()) >= 0:
        assert again.load(s) == 4
        order.append(struct.unpack_from("<I", again.buf, 10)[0])
        again.free(s)
    assert order == [100, 103, 104, 106]


def test_a_key_in_the_record_orders_it(tmp_path):
    """mqtt: the fleet sequence in the message orders the ring, not the write order, so a message
    put back after a broken connection goes before newer ones."""
    ring = FlashRing(str(tmp_path / "r.bin"), 3 * 24, bytearray(24), MAGIC, key_at=10)
    for seq in (7, 9, 5):
        ring.buf[10:18] = struct.pack("<Q", seq + 2**40)
        ring.put(8)
    s = ring.oldest()
    assert ring.load(s) == 8 and struct.unpack_from("<Q", ring.buf, 10)[0] == 5 + 2**40
    assert sorted(ring.keys) == [5 + 2**40, 7 + 2**40, 9 + 2**40]
