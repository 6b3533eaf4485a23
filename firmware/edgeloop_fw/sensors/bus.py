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
