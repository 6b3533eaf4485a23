"""Records on flash in fixed slots, each whole or absent, the oldest overwritten: the one ring a
board keeps, for kept windows (capture.Ring) and for messages it could not publish (mqtt_sink.MsgRing).

Why it is built this way:
- A slot is the caller's buffer as it is: a 10-byte head (magic u16, data length u16, record
  number u32, reserved u16; protocol.HEADER_SIZE bytes, so a frame encoder's raw buffer holds a
  record with its payload where a frame's payload goes and storing copies nothing), the data,
  then a CRC-16 over head and data. A write cut off part-way fails the CRC: a slot is a whole
  record or none, after any power cut.
- Each slot has a key that orders it: the record number (from 1, in write order; after a reboot
  numbering goes on after the highest found), or, with `key_at`, a u64 the record itself holds
  (mqtt: the fleet sequence, so a message put back after a lost connection still goes before
  newer ones). `oldest()` is the lowest key.
- An in-flight mark (`busy`): a slot whose record is being sent (published, no PUBACK yet) is not
  `oldest()` again and is never overwritten; `free` or `unmark` clear it.
- `put` takes a free slot (searched from the one after the last write), else overwrites the
  oldest not in flight (counted in `lost`); when every slot is in flight the new record is the
  one lost. A file of another slot size (a new model, other frames) is started over.
- Nothing is allocated per record (one buffer, slot state in preallocated lists), so it runs in
  the app's loop on MicroPython and CircuitPython alike.
"""

import struct

from . import protocol as P

HEAD_FMT = "<HHIH"  # magic, data length, record number, reserved
HEAD_SIZE = 10  # == protocol.HEADER_SIZE


class FlashRing:
    def __init__(self, path, size, buf, magic, what="ring", key_at=-1):
        self.path = path
        self.buf = buf
        self.mv = memoryview(buf)
        self.magic = magic
        self.key_at = key_at
        self.slot_size = len(buf)
        self.n_slots = size // self.slot_size
        if self.n_slots < 2:
            raise ValueError("%s ring_bytes %d holds fewer than 2 records of %d bytes" % (what, size, self.slot_size))
        self.keys = [-1] * self.n_slots  # each slot's key, -1: free
        self.busy = bytearray(self.n_slots)  # 1: in flight
        self._zero = bytes(2)
        self.lost = 0  # records overwritten (or refused) before they were shipped
        self.used = 0
        try:
            f = open(path, "r+b")
        except OSError:
            f = None
        if f is not None:
            f.seek(0, 2)
            if f.tell() != self.n_slots * self.slot_size:
                f.close()
                f = None
        if f is None:
            f = open(path, "wb")
            zero = bytes(self.slot_size)
            for _ in range(self.n_slots):
                f.write(zero)
            f.close()
            f = open(path, "r+b")
        self.f = f
        self.head = 0  # where the search for a free slot starts: after the last write
        top = 0
        for s in range(self.n_slots):
            if self._read(s) >= 0:
                record = self._record()
                self.keys[s] = self._key(record)
                self.used += 1
                if record > top:
                    top = record
                    self.head = (s + 1) % self.n_slots
        self.next_record = top + 1

    def _key(self, record):
        if self.key_at < 0:
            return record
        b, i = self.buf, self.key_at  # by hand: unpack_from would allocate its tuple per record
        return (b[i] | b[i + 1] << 8 | b[i + 2] << 16 | b[i + 3] << 24 | b[i + 4] << 32 | b[i + 5] << 40
                | b[i + 6] << 48 | b[i + 7] << 56)

    def _record(self):
        b = self.buf
        return b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24

    def _read(self, slot):
        """Read the slot into buf; its data length if whole (magic, length and CRC right), else -1."""
        f, buf = self.f, self.buf
        f.seek(slot * self.slot_size)
        if f.readinto(buf) != self.slot_size:
            return -1
        magic, n, record, _r = struct.unpack_from(HEAD_FMT, buf, 0)
        end = HEAD_SIZE + n
        if magic != self.magic or end + 2 > self.slot_size or record <= 0 or (0 <= self.key_at and self.key_at + 8 > end):
            return -1
        if P.crc16(buf, end) != buf[end] | (buf[end + 1] << 8):
            return -1
        return n

    def count(self):
        return self.used

    def put(self, n):
        """Store buf[HEAD_SIZE:HEAD_SIZE + n] as record `next_record`; its slot, or -1 when every
        slot is in flight (then it is lost)."""
        keys, busy = self.keys, self.busy
        slot = -1
        s = self.head
        for _ in range(self.n_slots):
            if keys[s] < 0:
                slot = s
                break
            s += 1
            if s == self.n_slots:
                s = 0
        if slot < 0:
            slot = self.oldest()
            self.lost += 1
            if slot < 0:
                return -1
            self.used -= 1
        buf = self.buf
        record = self.next_record
        struct.pack_into(HEAD_FMT, buf, 0, self.magic, n, record, 0)
        end = HEAD_SIZE + n
        crc = P.crc16(buf, end)
        buf[end] = crc & 0xFF
        buf[end + 1] = crc >> 8
        f = self.f
        f.seek(slot * self.slot_size)
        f.write(buf)
        f.flush()
        keys[slot] = self._key(record)
        busy[slot] = 0
        self.used += 1
        self.next_record = record + 1
        self.head = slot + 1 if slot + 1 < self.n_slots else 0
        return slot

    def oldest(self):
        """The slot of the stored record with the lowest key not in flight, or -1."""
        keys, busy = self.keys, self.busy
        best = -1
        for s in range(self.n_slots):
            k = keys[s]
            if k >= 0 and not busy[s] and (best < 0 or k < keys[best]):
                best = s
        return best

    def load(self, slot):
        """Read the slot's record into buf (data at HEAD_SIZE); its data length, or -1 (then freed)
        when it no longer reads back as what was written."""
        n = self._read(slot)
        if n < 0 or self._key(self._record()) != self.keys[slot]:
            self.free(slot)
            return -1
        return n

    def mark(self, slot):
        """The slot's record is in flight: not oldest() again, never overwritten."""
        self.busy[slot] = 1

    def unmark(self, slot):
        """Its sending was cut off: the record waits again, in its key's place."""
        self.busy[slot] = 0

    def free(self, slot):
        """The record was delivered (or no longer reads): its slot is free."""
        self.busy[slot] = 0
        if self.keys[slot] < 0:
            return
        f = self.f
        f.seek(slot * self.slot_size)
        f.write(self._zero)
        f.flush()
        self.keys[slot] = -1
        self.used -= 1

    def close(self):
        f, self.f = self.f, None
        if f is not None:
            f.close()
