"""Chips on a 4-wire SPI bus (the Nicla Vision's LSM6DSOX on spi5).

Its own module, imported only when a profile's sensor sits on SPI, so the
boards whose sensors are on I2C (or replayed) do not pay heap for it.
"""

from .bus import SensorError, _Registers, _bus_number, _busio, _pin


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
