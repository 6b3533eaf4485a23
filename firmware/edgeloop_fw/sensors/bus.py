"""Register access to one sensor chip, over I2C or SPI, on MicroPython (machine) or CircuitPython (busio).

The drivers only ever need "read N registers into this buffer" and "write one
register", so that is all these classes offer, with the same surface on both
buses; `open_imu` picks the bus from the config. All scratch buffers are made
once; a read on the sampling path allocates nothing on either API.
"""


class SensorError(Exception):
    """A sensor is absent, answers with the wrong identity, or the bus failed."""


class _Registers:
    """What both buses share: one register through the bus's block read, read-modify-write."""

    where = ""  # for messages: "I2C address 0x6a", "SPI spi5, chip select PF6"

    def read_u8(self, reg):
        self.read_into(reg, self._byte)
        return self._byte[0]

    def update_bits(self, reg, mask, value):
        """Read-modify-write only the bits in `mask`, keeping the chip's other settings."""
        old = self.read_u8(reg)
        self.write_u8(reg, (old & ~mask) | (value & mask))


class I2CDevice(_Registers):
    def __init__(self, i2c, address):
        self.i2c = i2c
        self.address = address
        self.where = "I2C address 0x%02x" % address
        # machine.I2C has the *_mem calls; busio.I2C has try_lock + writeto_then_readfrom.
        self._busio = not hasattr(i2c, "readfrom_mem_into")
        self._reg = bytearray(1)
        self._pair = bytearray(2)
        self._byte = bytearray(1)

    def _lock(self):
        while not self.i2c.try_lock():
            pass

    def read_into(self, reg, buf):
        """Fill `buf` from consecutive registers starting at `reg` (the chip must auto-increment)."""
        try:
            if self._busio:
                self._reg[0] = reg
                self._lock()
                try:
                    self.i2c.writeto_then_readfrom(self.address, self._reg, buf)
                finally:
                    self.i2c.unlock()
            else:
                self.i2c.readfrom_mem_into(self.address, reg, buf)
        except OSError as e:
            raise SensorError("no answer from I2C address 0x%02x (register 0x%02x): %s; check wiring and the address in the board profile"
                              % (self.address, reg, e))

    def write_u8(self, reg, value):
        try:
            if self._busio:
                self._pair[0] = reg
                self._pair[1] = value & 0xFF
                self._lock()
                try:
                    self.i2c.writeto(self.address, self._pair)
                finally:
                    self.i2c.unlock()
            else:
                self._byte[0] = value & 0xFF
                self.i2c.writeto_mem(self.address, reg, self._byte)
        except OSError as e:
            raise SensorError("no answer from I2C address 0x%02x (register 0x%02x): %s; check wiring and the address in the board profile"
                              % (self.address, reg, e))



class SPIDevice(_Registers):
    """One chip on a 4-wire SPI bus, as ST's LSM6DSOX datasheet (DS13604, 6.2) frames it (TDK's parts alike).

    Chip select low starts a transaction and high ends it. The first byte is
    the command: bit 7 set reads, clear writes; bits 6..0 are the register.
    Every further byte reads or writes the next register when the chip
    auto-increments (LSM6DSOX: CTRL3_C IF_INC, set at reset), so a whole
    sample is one burst, latched together. `cs` is a machine.Pin (output) or
    a digitalio.DigitalInOut; `spi` is a machine.SPI or a busio.SPI, already
    in mode 3 (clock idles high, data captured on the rising edge).
    """

    READ = 0x80

    def __init__(self, spi, cs, where="SPI"):
        self.spi = spi
        self.cs = cs
        self.where = where
        self._busio = hasattr(spi, "try_lock")  # busio.SPI must be locked around a transfer
        self._dio = hasattr(cs, "switch_to_output")  # digitalio: a `value` property, not a method
        if self._dio:
            cs.switch_to_output(value=True)
        self._cmd = bytearray(1)
        self._pair = bytearray(2)
        self._byte = bytearray(1)
        self._select(False)

    def _select(self, on):
        if self._dio:
            self.cs.value = not on
        else:
            self.cs.value(0 if on else 1)

    def _transfer(self, out, into, reg):
        """One transaction: chip select low, `out` clocked out, then `into` clocked in, chip select high."""
        spi = self.spi
        if self._busio:
            while not spi.try_lock():
                pass
        try:
            self._select(True)
            try:
                spi.write(out)
                if into is not None:
                    spi.readinto(into)
            finally:
                self._select(False)
        except OSError as e:
            raise SensorError("SPI transfer to the chip on %s failed (register 0x%02x): %s; check the bus and pins "
                              "in the board profile" % (self.where, reg, e))
        finally:
            if self._busio:
                spi.unlock()

    def read_into(self, reg, buf):
        """Fill `buf` from consecutive registers starting at `reg` in one burst (the chip must auto-increment)."""
        self._cmd[0] = self.READ | (reg & 0x7F)
        self._transfer(self._cmd, buf, reg)

    def write_u8(self, reg, value):
        self._pair[0] = reg & 0x7F
        self._pair[1] = value & 0xFF
        self._transfer(self._pair, None, reg)


def _pin(name_or_number):
    """A pin object for machine.I2C / busio.I2C from a profile value (int GPIO or board pin name)."""
    try:
        import board
    except ImportError:
        board = None
    if board is not None:
        if isinstance(name_or_number, int):
            for prefix in ("GP", "IO", "D", "GPIO"):
                p = getattr(board, prefix + str(name_or_number), None)
                if p is not None:
                    return p
        else:
            p = getattr(board, name_or_number, None)
            if p is not None:
                return p
        raise SensorError("pin %r is not a pin of this board (see `dir(board)`)" % (name_or_number,))
    from machine import Pin
    return Pin(name_or_number)


def _busio():
    """CircuitPython's busio, or None on MicroPython (which has machine instead)."""
    try:
        import busio
    except ImportError:
        return None
    return busio


def _bus_number(bus, prefix):
    """The peripheral number in a profile's bus name ("i2c0" -> 0, "spi5" -> 5); 0 when it names none."""
    rest = bus[len(prefix):]
    return int(rest) if bus.startswith(prefix) and rest.isdigit() else 0


def open_i2c(bus="", pins=None, freq=400000):
    """Open the I2C bus a board profile names ("i2c0", sda/scl pins) on whichever API the port has."""
    pins = pins or {}
    busio = _busio()
    if busio is not None:
        if "sda" in pins and "scl" in pins:
            return busio.I2C(_pin(pins["scl"]), _pin(pins["sda"]), frequency=freq)
        import board
        return board.I2C()
    try:
        import machine
    except ImportError:
        raise SensorError("this port has neither machine.I2C nor busio.I2C; use a replay sensor instead")
    bus_id = _bus_number(bus, "i2c")
    if "sda" in pins and "scl" in pins:
        return machine.I2C(bus_id, sda=_pin(pins["sda"]), scl=_pin(pins["scl"]), freq=freq)
    return machine.I2C(bus_id, freq=freq)


def open_spi(bus="", pins=None, baudrate=1000000):
    """The SPIDevice a board profile names ("spi5"; pins sck, mosi, miso and cs), in SPI mode 3.

    MicroPython: machine.SPI(id) with the profile's sck/mosi/miso where the
    port lets a bus take pins (rp2, esp32); stm32 fixes each bus's pins and
    refuses them with a ValueError, so there the id alone opens it.
    CircuitPython: busio.SPI on the pins (board.SPI() without them),
    configured once; the chip select is a digitalio output.
    """
    pins = pins or {}
    if "cs" not in pins:
        raise SensorError("the SPI sensor on %s names no chip-select pin; add pins.cs to the board profile's sensor"
                          % (bus or "its bus"))
    where = "SPI %s, chip select %s" % (bus or "bus", pins["cs"])
    busio = _busio()
    if busio is not None:
        import digitalio
        if "sck" in pins:
            spi = busio.SPI(_pin(pins["sck"]), MOSI=_pin(pins["mosi"]), MISO=_pin(pins["miso"]))
        else:
            import board
            spi = board.SPI()
        while not spi.try_lock():
            pass
        try:
            spi.configure(baudrate=baudrate, polarity=1, phase=1)
        finally:
            spi.unlock()
        return SPIDevice(spi, digitalio.DigitalInOut(_pin(pins["cs"])), where)
    try:
        import machine
    except ImportError:
        raise SensorError("this port has neither machine.SPI nor busio.SPI; use a replay sensor instead")
    bus_id = _bus_number(bus, "spi")
    spi = None
    if "sck" in pins and "mosi" in pins and "miso" in pins:
        try:
            spi = machine.SPI(bus_id, baudrate=baudrate, polarity=1, phase=1,
                              sck=_pin(pins["sck"]), mosi=_pin(pins["mosi"]), miso=_pin(pins["miso"]))
        except ValueError:  # stm32: "explicit choice of sck/mosi/miso is not implemented"
            spi = None
    if spi is None:
        spi = machine.SPI(bus_id, baudrate=baudrate, polarity=1, phase=1)
    return SPIDevice(spi, machine.Pin(pins["cs"], machine.Pin.OUT, value=1), where)
