"""espsim://NAME: an ESP ROM serial loader model for esptool's real code paths.

Models only what a flash needs: the DTR/RTS wiring of a dev board (RTS -> EN, DTR -> IO0,
both inverted), the SLIP-framed command protocol (SYNC, READ_REG, GET_SECURITY_INFO,
SPI_ATTACH/SET_PARAMS, CHANGE_BAUDRATE, FLASH_BEGIN/DATA/END and the deflate variants,
SPI_FLASH_MD5), the upload of esptool's flasher stub into RAM (MEM_BEGIN/DATA/END, then
the stub's "OHAI" greeting), the stub's ERASE_FLASH and raw 16-byte MD5 replies, and a
flash array. A chip only answers after a reset with IO0 held low (or when created already
in download mode), as the real ROM does; a reset also ends the stub.
"""

from __future__ import annotations

import errno
import hashlib
import struct
import zlib

import serial
from serial.serialutil import SerialBase

CHIPS = {}  # name -> Chip, registered by tests


class Chip:
    def __init__(self, chip_id=9, flash_size=8 << 20, download_mode=False, usb_jtag=False):
        self.chip_id = chip_id
        self.flash = bytearray(b"\xff") * flash_size
        self.download = download_mode
        self.usb_jtag = usb_jtag
        self.events = []  # ("reset", "download"/"app"), ("stub",), ("erase",), ("write", addr, n), ("md5", addr, n)
        self.stub = False  # esptool's flasher stub is running (it was uploaded and started)
        self.ram = 0  # bytes uploaded with MEM_DATA
        self.en = True  # EN released
        self.io0 = True
        self._write = None
        self._inflate = None


class Serial(SerialBase):
    def open(self):
        name = self.portstr.split("://", 1)[1]
        self.chip = CHIPS[name]
        self._out = bytearray()
        self._frame = None
        self.is_open = True

    def close(self):
        self._settle()
        self.is_open = False

    def fileno(self):  # no real tty: esptool's ioctl-based reset reports it and moves on
        raise OSError(errno.ENOTTY, "not a tty")

    def _reconfigure_port(self, *args):
        pass

    # -- control lines: RTS drives EN low, DTR drives IO0 low (dev board transistors) --
    def _update_rts_state(self):
        self._lines()

    def _update_dtr_state(self):
        self._lines()

    def _lines(self):
        # EN has an RC delay on real boards: the chip samples IO0 a moment after EN rises,
        # i.e. at the next line change (or the next byte exchanged), not at the same instant.
        c = self.chip
        en = not (self._rts_state and not self._dtr_state)
        io0 = not (self._dtr_state and not self._rts_state)
        if getattr(self, "_booting", False) and (en, io0) != (c.en, c.io0):
            self._settle(io0)
        if not c.en and en:
            self._booting = True
        c.en, c.io0 = en, io0

    def _settle(self, io0=None):
        if getattr(self, "_booting", False):
            c = self.chip
            self._booting = False
            c.download = not (c.io0 if io0 is None else io0)
            c.stub = False
            c.events.append(("reset", "download" if c.download else "app"))
            self._out.clear()

    # -- byte stream --
    @property
    def in_waiting(self):
        self._settle()
        return len(self._out)

    def read(self, size=1):
        self._settle()
        data = bytes(self._out[:size])
        del self._out[:size]
        return data

    def reset_input_buffer(self):
        self._out.clear()

    def reset_output_buffer(self):
        pass

    def flush(self):
        pass

    def write(self, data):
        self._settle()
        for b in data:
            if b == 0xC0:
                if self._frame:
                    self._handle(bytes(self._frame))
                self._frame = bytearray()
            elif self._frame is not None:
                self._frame.append(b)
        return len(data)

    def _handle(self, frame):
        frame = frame.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
        if not self.chip.download or not self.chip.en or len(frame) < 8 or frame[0] != 0:
            return
        op, size, _ = struct.unpack_from("<BHI", frame, 1)
        body = frame[8:8 + size]
        value, data, ok = 0, b"", True
        c = self.chip
        if op == 0x08:  # SYNC: the ROM answers eight times, value non-zero
            for _ in range(8):
                self._reply(op, 0x20120707, b"")
            return
        if op == 0x0A:  # READ_REG
            value = 0
        elif op == 0x14:  # GET_SECURITY_INFO
            data = struct.pack("<IB7sII", 0, 0, bytes(7), c.chip_id, 0)
        elif op in (0x09, 0x0B, 0x0D, 0x0F):  # WRITE_REG, SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE
            pass
        elif op in (0x02, 0x10):  # FLASH_BEGIN / FLASH_DEFL_BEGIN
            erase_size, blocks, block_size, offset = struct.unpack_from("<IIII", body)
            c._write = [offset, bytearray()]
            c._inflate = zlib.decompressobj() if op == 0x10 else None
        elif op in (0x03, 0x11):  # FLASH_DATA / FLASH_DEFL_DATA
            n = struct.unpack_from("<I", body)[0]
            chunk = body[16:16 + n]
            c._write[1] += c._inflate.decompress(chunk) if c._inflate else chunk
            if op == 0x03:
                pass
        elif op in (0x04, 0x12):  # FLASH_END
            self._commit()
        elif op == 0x13:  # SPI_FLASH_MD5: the ROM answers 32 hex digits
            self._commit()
            addr, n = struct.unpack_from("<II", body)
            c.events.append(("md5", addr, n))
            digest = hashlib.md5(c.flash[addr:addr + n])
            data = digest.digest() if c.stub else digest.hexdigest().encode()  # stub: raw, ROM: hex
        elif op == 0x05:  # MEM_BEGIN
            c.ram = 0
        elif op == 0x07:  # MEM_DATA
            c.ram += struct.unpack_from("<I", body)[0]
        elif op == 0x06:  # MEM_END: flag "no entry", entry point; a stub greets once running
            no_entry, entry = struct.unpack_from("<II", body)
            self._reply(op, value, b"\x00\x00")
            if not no_entry and entry and c.ram:
                c.stub = True
                c.events.append(("stub",))
                self._out += b"\xc0OHAI\xc0"
            return
        elif op == 0xD0 and c.stub:  # ERASE_FLASH: only the stub has it
            c.flash[:] = b"\xff" * len(c.flash)
            c.events.append(("erase",))
        else:
            ok = False
        self._reply(op, value, data + (b"\x00\x00" if ok else b"\x01\x05"))

    def _commit(self):
        c = self.chip
        if c._write and c._write[1]:
            addr, data = c._write
            c.flash[addr:addr + len(data)] = data
            c.events.append(("write", addr, len(data)))
            c._write = None

    def _reply(self, op, value, data):
        pkt = struct.pack("<BBHI", 1, op, len(data), value) + data
        pkt = pkt.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
        self._out += b"\xc0" + pkt + b"\xc0"
