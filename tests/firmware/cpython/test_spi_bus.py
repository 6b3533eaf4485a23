"""The firmware's SPI register device on the wire, against ST's LSM6DSOX datasheet (DS13604, 6.2), under CPython.

The reference is a byte-level SPI target written here from the datasheet,
not the virtual board's chip model: chip select low opens a transaction; its
first byte is RW (bit 7, 1 = read) and the register address (bits 6..0);
each further byte is the next register while CTRL3_C.IF_INC (bit 2, set at
reset) is set, the same register otherwise. It records every transaction as
the bytes seen on MOSI, so the tests check the framing itself: the read bit,
one burst per sample, writes with bit 7 clear, chip select around each one.
Both port APIs are driven: machine.SPI + machine.Pin, and busio.SPI (locked
around each transfer) + digitalio.DigitalInOut.
"""

import sys
import types
from array import array

import pytest

from edgeloop.sim.board_scripts.simchips import BusioLock, LSM6DSOXModel, MPU6050Model
from edgeloop.sim.board_scripts.simspi import SPIBus
from edgeloop_fw.sensors import open_imu
from edgeloop_fw.sensors.bus import SensorError
from edgeloop_fw.sensors.spi import SPIDevice
from edgeloop_fw.sensors.lsm6dsox import LSM6DSOX

WHO_AM_I, CTRL1_XL, CTRL2_G, CTRL3_C, OUTX_L_G, OUTX_L_A = 0x0F, 0x10, 0x11, 0x12, 0x22, 0x28


class DatasheetTarget:
    """An LSM6DSOX's SPI interface as DS13604 6.2 and its register table describe it (only what the tests need)."""

    def __init__(self):
        self.regs = bytearray(128)
        self.reset()
        self.selected = False
        self.transactions = []  # MOSI bytes of each chip-select window
        self.stray = 0  # bytes clocked while deselected

    def reset(self):
        for i in range(128):
            self.regs[i] = 0
        self.regs[WHO_AM_I] = 0x6C
        self.regs[CTRL3_C] = 0x04  # IF_INC

    def select(self, low):
        if low and not self.selected:
            self.transactions.append([])
        self.selected = low

    def clock(self, mosi):
        """One byte each way."""
        if not self.selected:
            self.stray += 1
            return 0xFF
        t = self.transactions[-1]
        t.append(mosi)
        if len(t) == 1:
            return 0xFF  # SDO is high impedance while the command comes in
        cmd = t[0]
        step = 1 if self.regs[CTRL3_C] & 0x04 else 0
        reg = (cmd & 0x7F) + step * (len(t) - 2)
        if cmd & 0x80:
            return self.regs[reg]
        self.regs[reg] = mosi
        if reg == CTRL3_C and mosi & 0x01:  # SW_RESET
            self.reset()
        return 0xFF

    def set16(self, reg, value):
        self.regs[reg] = value & 0xFF
        self.regs[reg + 1] = (value >> 8) & 0xFF


class MachineSPI:
    """machine.SPI's transfer calls."""

    def __init__(self, target):
        self.target = target

    def write(self, buf):
        for b in buf:
            self.target.clock(b)

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = self.target.clock(write)


class MachinePin:
    def __init__(self, target):
        self.target = target
        self.level = None

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        self.target.select(not v)


class BusioSPI(BusioLock, MachineSPI):
    """busio.SPI: transfers only while locked."""

    config = None

    def configure(self, baudrate=100000, polarity=0, phase=0, bits=8):
        self._need_lock()
        self.config = (baudrate, polarity, phase)

    def write(self, buf):
        self._need_lock()
        super().write(buf)

    def readinto(self, buf, write_value=0):
        self._need_lock()
        super().readinto(buf, write_value)


class DigitalInOut:
    def __init__(self, target):
        self.target = target
        self.output = False
        self._value = None

    def switch_to_output(self, value=False):
        self.output = True
        self.value = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, v):
        assert self.output, "chip select driven before switch_to_output"
        self._value = v
        self.target.select(not v)


def _device(target, api):
    if api == "machine":
        return SPIDevice(MachineSPI(target), MachinePin(target), "SPI test")
    return SPIDevice(BusioSPI(target), DigitalInOut(target), "SPI test")


@pytest.mark.parametrize("api", ["machine", "busio"])
def test_read_bit_and_auto_increment_burst(api):
    t = DatasheetTarget()
    dev = _device(t, api)
    assert dev.read_u8(WHO_AM_I) == 0x6C
    assert t.transactions == [[0x80 | WHO_AM_I, 0]]  # read bit set, one byte clocked in

    dev.write_u8(CTRL1_XL, 0x48)
    assert t.transactions[-1] == [CTRL1_XL, 0x48] and t.regs[CTRL1_XL] == 0x48  # write: bit 7 clear

    for i, v in enumerate((0x1234, -2, 0x7FFF)):
        t.set16(OUTX_L_A + 2 * i, v)
    buf = bytearray(6)
    dev.read_into(OUTX_L_A, buf)
    assert t.transactions[-1] == [0x80 | OUTX_L_A] + [0] * 6  # one burst: command, then 6 data clocks
    assert bytes(buf) == bytes(t.regs[OUTX_L_A:OUTX_L_A + 6])
    assert t.stray == 0 and not t.selected  # every byte inside a chip-select window, deselected after


def test_busio_bus_is_unlocked_between_transfers():
    t = DatasheetTarget()
    spi = BusioSPI(t)
    dev = SPIDevice(spi, DigitalInOut(t))
    dev.read_u8(WHO_AM_I)
    assert not spi.locked


@pytest.mark.parametrize("api", ["machine", "busio"])
@pytest.mark.parametrize("gyro_dps", [None, 500])
def test_lsm6dsox_driver_over_spi(api, gyro_dps):
    """The whole driver on the datasheet target: its set-up writes, then one burst per sample, decoded."""
    t = DatasheetTarget()
    imu = LSM6DSOX(_device(t, api), rate_hz=100, accel_g=4, gyro_dps=gyro_dps)
    writes = [tr for tr in t.transactions if not tr[0] & 0x80]
    assert writes[:2] == [[CTRL3_C, 0x01], [CTRL3_C, 0x44]]  # SW_RESET, then BDU + IF_INC
    assert [CTRL1_XL, 0x48] in writes  # 104 Hz, ±4 g
    assert [CTRL2_G, 0x44 if gyro_dps else 0x00] in writes  # 104 Hz ±500 dps, or powered down

    # Raw counts at ±4 g (0.122 mg/LSB) and ±500 dps (17.5 mdps/LSB) -> mg and 0.1 dps.
    accel = (8197, -4099, 0)  # 1000.0, -500.1, 0 mg
    gyro = (1000, -20000, 3)  # 17.5, -350, 0.0525 dps: 175, -3500, 1 (0.1 dps)
    for i in range(3):
        t.set16(OUTX_L_A + 2 * i, accel[i])
        t.set16(OUTX_L_G + 2 * i, gyro[i])
    out = array("h", bytes(2 * imu.channels))
    before = len(t.transactions)
    imu.read_into(out)
    assert len(t.transactions) == before + 1  # the sample is one transaction
    first, n = (OUTX_L_G, 12) if gyro_dps else (OUTX_L_A, 6)
    assert t.transactions[-1] == [0x80 | first] + [0] * n
    want = [round(c * 0.122) for c in accel] + ([round(c * 17.5 / 100) for c in gyro] if gyro_dps else [])
    assert list(out) == want


def _fake_port(monkeypatch, target, circuitpython):
    """machine (stm32-like: a hardware SPI bus refuses explicit pins) or busio/digitalio/board, into sys.modules."""
    opened = {}
    if circuitpython:
        def busio_spi(clock, MOSI=None, MISO=None):
            opened["spi"] = (clock, MOSI, MISO)
            opened["bus"] = BusioSPI(target)
            return opened["bus"]

        def dio(pin):
            opened["cs"] = pin
            return DigitalInOut(target)

        monkeypatch.setitem(sys.modules, "busio", types.SimpleNamespace(SPI=busio_spi))
        monkeypatch.setitem(sys.modules, "digitalio", types.SimpleNamespace(DigitalInOut=dio))
        monkeypatch.setitem(sys.modules, "board", types.SimpleNamespace(**{n: "board." + n for n in
                                                                         ("PF6", "PF7", "PF8", "PF11")}))
    else:
        def machine_spi(id, baudrate=1000000, *, polarity=0, phase=0, sck=None, mosi=None, miso=None):
            if sck is not None or mosi is not None or miso is not None:
                raise ValueError("explicit choice of sck/mosi/miso is not implemented")
            opened["spi"] = (id, baudrate, polarity, phase)
            return MachineSPI(target)

        class Pin:
            OUT = 1

            def __init__(self, id, mode=-1, value=None):
                opened["cs"] = (id, mode, value)
                self.pin = MachinePin(target)
                self.value = self.pin.value
                if value is not None:
                    self.value(value)

        monkeypatch.setitem(sys.modules, "busio", None)  # import busio -> ImportError
        monkeypatch.setitem(sys.modules, "machine", types.SimpleNamespace(SPI=machine_spi, Pin=Pin))
    return opened


@pytest.mark.parametrize("circuitpython", [False, True], ids=["micropython", "circuitpython"])
def test_open_imu_takes_spi_from_the_profile(monkeypatch, circuitpython):
    """nicla_vision's entry (spi5, cs PF6): SPI mode 3 on that bus, the chip select an output held high."""
    t = DatasheetTarget()
    opened = _fake_port(monkeypatch, t, circuitpython)
    cfg = {"part": "LSM6DSOX", "bus": "spi5", "pins": {"cs": "PF6", "sck": "PF7", "miso": "PF8", "mosi": "PF11"},
           "rate": 100}
    imu = open_imu(cfg)
    assert isinstance(imu, LSM6DSOX) and imu.dev.where == "SPI spi5, chip select PF6"
    if circuitpython:
        assert opened["spi"] == ("board.PF7", "board.PF11", "board.PF8") and opened["cs"] == "board.PF6"
        assert opened["bus"].config == (1000000, 1, 1)
    else:
        assert opened["spi"] == (5, 1000000, 1, 1)  # reopened by id after the port refused the pins
        assert opened["cs"] == ("PF6", 1, 1)
    assert t.regs[CTRL1_XL] == 0x48 and t.stray == 0


def test_spi_without_chip_select_is_refused(monkeypatch):
    _fake_port(monkeypatch, DatasheetTarget(), False)
    with pytest.raises(SensorError, match="names no chip-select pin; add pins.cs"):
        open_imu({"part": "LSM6DSOX", "bus": "spi5", "pins": {"sck": "PF7"}})


def test_silent_bus_fails_the_identity_check_naming_the_chip_select():
    t = DatasheetTarget()
    t.regs[WHO_AM_I] = 0xFF  # nothing drives MISO
    with pytest.raises(SensorError, match=r"chip at SPI test says WHO_AM_I=0xff, not 0x6c \(LSM6DSOX\)"):
        LSM6DSOX(_device(t, "machine"))


def test_register_model_refuses_what_its_datasheet_does():
    """The virtual board's SPI target: the MPU-6050 has no SPI; the LSM6DSOX tops out at 10 MHz, modes 0/3."""
    with pytest.raises(ValueError, match=r"MPU-6050 \(virtual\): the part has no SPI interface"):
        SPIBus(MPU6050Model())
    with pytest.raises(ValueError, match="SPI clock 20000000 Hz is above the part's 10000000 Hz"):
        SPIBus(LSM6DSOXModel(), baudrate=20000000)
    with pytest.raises(ValueError, match="polarity=1 phase=0"):
        SPIBus(LSM6DSOXModel(), polarity=1, phase=0)


@pytest.mark.parametrize("cut", [1, 3])
def test_register_model_keeps_one_sample_across_split_transfers(cut):
    """A burst split into several transfers under one chip select continues the registers from one sample."""
    chip = LSM6DSOXModel()
    bus = SPIBus(chip)
    LSM6DSOX(SPIDevice(bus, bus.cs), accel_g=2)
    chip.accel_mg = (1000, -1000, 500)
    whole = bytearray(6)
    bus.cs.value(0)
    bus.write(bytes([0x80 | OUTX_L_A]))
    head, tail = bytearray(cut), bytearray(6 - cut)
    bus.readinto(head)
    chip.accel_mg = (0, 0, 0)  # a new sample must not leak into the same transaction
    bus.readinto(tail)
    bus.cs.value(1)
    whole[:cut], whole[cut:] = head, tail
    counts = [int.from_bytes(whole[i:i + 2], "little", signed=True) for i in (0, 2, 4)]
    assert counts == [round(v / 0.061) for v in (1000, -1000, 500)]
