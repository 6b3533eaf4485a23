"""machine.SPI for the virtual board, and the SPI framing of the emulated chips.

Loaded only when the firmware asks `machine` for SPI (the Nicla Vision's LSM6DSOX on spi5): the
I2C and I2S boards never pay heap for it. Pins and wiring come from `machine` (imported when
used, so host tests can import the chip framing under CPython).
"""



class ChipSelect:
    """A chip's select line as a machine.Pin output drives it (active low): low starts a transaction."""

    def __init__(self, bus):
        self.bus = bus
        self.level = 1

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = 1 if v else 0
        self.bus.select(not self.level)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class SPIBus:
    """machine.SPI's transfers to one chip model on a 4-wire bus, framed as DS13604 6.2 (TDK's parts alike).

    Between chip select falling and rising, the first byte is the command
    (bit 7: read, bits 6..0: register); every further byte reads or writes
    the next register while the chip auto-increments. A read latches one
    sample for the whole transaction. MISO reads IDLE while the chip does not
    drive it (deselected, or during the command byte). `cs` is the chip's
    select line for a driver to hold; the virtual board's machine.Pin drives
    `select` instead when the pin is the wired one.
    """

    IDLE = 0xFF  # an undriven MISO, as with a pull-up

    def __init__(self, chip, baudrate=1000000, polarity=1, phase=1):
        self.chip = chip
        self.cs = ChipSelect(self)
        self.selected = False
        self._reg = -1  # -1: the next byte is a command
        self._read = False
        self._latched = False
        self._one = bytearray(1)
        self.configure(baudrate, polarity, phase)

    def configure(self, baudrate, polarity, phase):
        """Refuse what the part's datasheet does not allow: no SPI at all, a clock too fast, modes 1 and 2."""
        chip = self.chip
        if not chip.SPI_MAX_HZ:
            raise ValueError("%s (virtual): the part has no SPI interface (%s); it is read over I2C"
                             % (chip.PART, chip.DATASHEET))
        if polarity != phase:
            raise ValueError("%s (virtual): SPI polarity=%d phase=%d; the chip captures data on the clock's rising "
                             "edge (%s): use mode 3 (polarity=1, phase=1) or 0" % (chip.PART, polarity, phase,
                                                                                  chip.DATASHEET))
        if baudrate > chip.SPI_MAX_HZ:
            raise ValueError("%s (virtual): SPI clock %d Hz is above the part's %d Hz (%s)"
                             % (chip.PART, baudrate, chip.SPI_MAX_HZ, chip.DATASHEET))

    def select(self, on):
        """Chip select edge: either edge ends a transaction; low starts one."""
        if on != self.selected:
            self.selected = on
            self._reg = -1
            self._latched = False

    def transfer(self, out, into, n, fill=0):
        """n bytes each way: out[i] (or `fill` when out is None) to the chip, its answer into[i] (when given)."""
        if not self.selected:
            if into is not None:
                for k in range(n):
                    into[k] = self.IDLE
            return
        i = 0
        if self._reg < 0 and n:
            cmd = fill if out is None else out[0]
            self._read = bool(cmd & 0x80)
            self._reg = cmd & 0x7F
            if into is not None:
                into[0] = self.IDLE
            i = 1
        if i >= n:
            return
        chip = self.chip
        if self._read:
            if into is not None:
                chip.read_into(self._reg, into, i, not self._latched)
                self._latched = True
        elif out is not None:
            chip.write(self._reg, out, i)
        else:
            one = self._one
            one[0] = fill
            for k in range(i, n):
                chip.write(self._reg + (k - i if chip.auto_increment() else 0), one)
        if into is not None and not self._read:
            for k in range(i, n):
                into[k] = self.IDLE
        if chip.auto_increment():
            self._reg += n - i

    # machine.SPI's calls
    def write(self, buf):
        self.transfer(buf, None, len(buf))

    def readinto(self, buf, write=0):
        self.transfer(None, buf, len(buf), write)

    def read(self, nbytes, write=0):
        buf = bytearray(nbytes)
        self.readinto(buf, write)
        return bytes(buf)

    def write_readinto(self, write_buf, read_buf):
        if len(write_buf) != len(read_buf):
            raise ValueError("buffers must be the same length")
        self.transfer(write_buf, read_buf, len(read_buf))


def _spi_chip(bus_id):
    """(simchips.SPIBus, wiring entry) of the chip on one SPI bus, or (None, None); made once per bus.

    Its chip select is the wired pin: from now on, driving that pin (any Pin
    object on it) selects the chip.
    """
    from machine import _bus_id, _imu_chip, _levels, _selects, _state, _wiring
    key = ("spi", bus_id)
    if key not in _state:
        found = (None, None)
        entry = _wiring().get("imu")
        if entry and _bus_id(entry.get("bus", ""), "spi") == bus_id:
            chip = SPIBus(_imu_chip(entry))
            cs = (entry.get("pins") or {}).get("cs")
            _selects[cs] = chip
            chip.select(_levels.get(cs, 1) == 0)
            found = (chip, entry)
        _state[key] = found
    return _state[key]


class SPI:
    """machine.SPI(id, baudrate, polarity=, phase=, sck=, mosi=, miso=) over the emulated chip on that bus.

    The chip refuses the clock modes and rates its datasheet does not allow
    (SPIBus.configure); other pins than the wired ones reach no chip.
    """

    MSB = 0
    LSB = 1

    def __init__(self, id=0, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None,
                 miso=None):
        from machine import _bus_id, _pins_match
        if isinstance(id, str):
            id = _bus_id(id, "spi") or 0
        self.id = id
        chip, entry = _spi_chip(id)
        self._chip = chip if chip is not None and _pins_match(entry, {"sck": sck, "mosi": mosi, "miso": miso}) \
            else None
        self.init(baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit)

    def init(self, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None):
        if bits != 8 or firstbit != SPI.MSB:
            raise ValueError("the virtual board's SPI sends 8-bit words MSB first (as the sensors expect)")
        self.baudrate = baudrate
        if self._chip is not None:
            self._chip.configure(baudrate, polarity, phase)

    def deinit(self):
        pass

    def _idle(self, buf):
        for i in range(len(buf)):
            buf[i] = 0xFF

    def write(self, buf):
        if self._chip is not None:
            self._chip.write(buf)

    def readinto(self, buf, write=0):
        if self._chip is None:
            self._idle(buf)
        else:
            self._chip.readinto(buf, write)

    def read(self, nbytes, write=0):
        buf = bytearray(nbytes)
        self.readinto(buf, write)
        return bytes(buf)

    def write_readinto(self, write_buf, read_buf):
        if self._chip is None:
            self._idle(read_buf)
        else:
            self._chip.write_readinto(write_buf, read_buf)

    def __repr__(self):
        return "SPI(%d, baudrate=%d) [virtual]" % (self.id, self.baudrate)
