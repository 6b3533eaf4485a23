"""Register-level models of the IMUs the board profiles name, each written from its datasheet.

The virtual board puts this file on its flash (`/lib/simchips.py`) and its
`machine.I2C` and `machine.SPI` route every register access here (one model
serves both buses: I2CBus below and simspi.SPIBus only frame the transactions); host tests drive the
firmware's drivers with the same models under CPython. The models know
nothing of the drivers: each holds a register file with the datasheet's reset
values, acts on the control bits the datasheet defines (software reset, sleep,
power modes, auto-increment) and turns a physical acceleration (mg) and
rotation (mdps) into raw counts with the datasheet's sensitivity for the range
the driver configured, so a driver that writes the wrong field or decodes with
the wrong sensitivity reads the wrong physical value back.

A register the model does not emulate, a write to a read-only register or a
reserved field code raises UnmodelledRegister (a ValueError naming the part
and register): a driver that relies on something the model lacks fails
loudly instead of reading zeros.

Sensitivities are exact fractions (counts = physical * num / den), so a
sample costs integer arithmetic only: no float, no long int, no allocation.
Written in the subset MicroPython runs.
"""


class UnmodelledRegister(ValueError):
    """A driver touched a register (or field value) the chip model does not emulate."""


def _counts(x, num, den):
    """round(x * num / den), half away from zero, as a nearest-code ADC result; ints stay ints."""
    if x >= 0:
        return int((2 * x * num + den) // (2 * den))
    return -int((-2 * x * num + den) // (2 * den))


class ChipModel:
    PART = ""
    DATASHEET = ""
    WHO_AM_I_REG = 0
    WHO_AM_I = 0
    LITTLE_ENDIAN = False
    RESET = {}  # every register the model emulates -> its reset value
    WRITABLE = ()  # the registers a driver may write
    SPI_MAX_HZ = 0  # the datasheet's fastest SPI clock; 0: the part has no SPI interface

    def __init__(self):
        self.regs = bytearray(128)
        self.access = bytearray(128)  # 1 readable, 3 readable and writable
        for reg in self.RESET:
            self.access[reg] = 1
        for reg in self.WRITABLE:
            self.access[reg] = 3
        self.accel_mg = (0, 0, 1000)  # what the chip feels; a source replaces these per sample
        self.gyro_mdps = (0, 0, 0)
        self.source = None
        self.reset()

    def attach(self, source):
        """Feed the chip from `source.fill(accel_mg, gyro_mdps)` (a recording) instead of fixed values."""
        self.source = source
        self.accel_mg = [0, 0, 0]
        self.gyro_mdps = [0, 0, 0]

    def reset(self):
        regs = self.regs
        for i in range(len(regs)):
            regs[i] = 0
        for reg, value in self.RESET.items():
            regs[reg] = value
        if self.source is not None:
            self.source.restart()

    def auto_increment(self):
        return True

    def _check(self, reg, need):
        if reg > 0x7F or self.access[reg] & need != need:
            raise self._refusal(reg, need)

    def _refusal(self, reg, need):
        # Apart from _check: a comprehension over `self` would make `self` a cell, allocated on every call.
        known = " ".join(["0x%02x" % r for r in range(128) if self.access[r]])
        what = "write" if need == 3 else "read"
        why = "is read-only" if need == 3 and reg <= 0x7F and self.access[reg] else "is not emulated"
        return UnmodelledRegister("%s (virtual): %s of register 0x%02x %s; the model (%s) has %s"
                                  % (self.PART, what, reg, why, self.DATASHEET, known))

    def read_into(self, reg, buf, start=0, latch=True):
        """One read transaction into buf[start:]: all bytes come from one sample (as with block data update).

        `latch=False` continues a transaction whose sample is already latched
        (a burst split over several SPI transfers under one chip select).
        """
        inc = self.auto_increment()
        n = len(buf) - start
        if n <= 0:
            return
        last = reg + n - 1 if inc else reg
        self._check(reg, 1)
        self._check(last, 1)
        if latch:
            self.update_outputs()
        regs = self.regs
        for i in range(n):
            r = reg + i if inc else reg
            if not self.access[r]:
                self._check(r, 1)
            buf[start + i] = regs[r]

    def write(self, reg, buf, start=0):
        inc = self.auto_increment()
        for i in range(start, len(buf)):
            r = reg + i - start if inc else reg
            self._check(r, 3)
            self.regs[r] = buf[i]
            self.on_write(r, buf[i])

    def on_write(self, reg, value):
        pass

    def put16(self, reg, value):
        if value > 32767:
            value = 32767
        elif value < -32768:
            value = -32768
        value &= 0xFFFF
        if self.LITTLE_ENDIAN:
            self.regs[reg] = value & 0xFF
            self.regs[reg + 1] = value >> 8
        else:
            self.regs[reg] = value >> 8
            self.regs[reg + 1] = value & 0xFF

    def feel(self):
        """Fill accel_mg/gyro_mdps from the source for this sample (no-op for fixed values)."""
        if self.source is not None:
            self.source.fill(self.accel_mg, self.gyro_mdps)

    def update_outputs(self):
        pass

    def bad_field(self, reg, what, value):
        raise UnmodelledRegister("%s (virtual): register 0x%02x %s code %d is reserved in %s"
                                 % (self.PART, reg, what, value, self.DATASHEET))


class LSM6DSOXModel(ChipModel):
    """ST LSM6DSOX, DS13604 rev 3: registers 0x0F, 0x10-0x12, 0x20-0x2D (table 20 and section 9)."""

    PART = "LSM6DSOX"
    DATASHEET = "ST DS13604"
    WHO_AM_I_REG = 0x0F
    WHO_AM_I = 0x6C
    LITTLE_ENDIAN = True
    # WHO_AM_I, CTRL1_XL, CTRL2_G, CTRL3_C (IF_INC set after reset), OUT_TEMP, OUTX_L_G..OUTZ_H_A.
    RESET = dict([(0x0F, 0x6C), (0x10, 0), (0x11, 0), (0x12, 0x04)] + [(r, 0) for r in range(0x20, 0x2E)])
    WRITABLE = (0x10, 0x11, 0x12)
    SPI_MAX_HZ = 10000000  # SPI slave timing: fc(SPC) max 10 MHz
    # FS_XL code -> mg per LSB as num/den for counts = mg * num / den (0.061, 0.488, 0.122, 0.244 mg/LSB).
    ACCEL = ((1000, 61), (1000, 488), (1000, 122), (1000, 244))
    # FS_G code -> counts = mdps * num / den (8.75, 17.5, 35, 70 mdps/LSB); FS_125 bit: 4.375 mdps/LSB.
    GYRO = ((4, 35), (2, 35), (1, 35), (1, 70))
    GYRO_125 = (8, 35)

    def auto_increment(self):
        return bool(self.regs[0x12] & 0x04)

    def on_write(self, reg, value):
        if reg == 0x12 and value & 0x01:  # SW_RESET: registers to defaults, the bit clears itself
            self.reset()
        elif reg in (0x10, 0x11) and value >> 4 > 10:
            self.bad_field(reg, "ODR", value >> 4)

    def update_outputs(self):
        ctrl1, ctrl2 = self.regs[0x10], self.regs[0x11]
        if not (ctrl1 >> 4 or ctrl2 >> 4):
            return  # both powered down: the outputs keep their last values
        self.feel()
        if ctrl1 >> 4:
            num, den = self.ACCEL[(ctrl1 >> 2) & 3]
            for i in range(3):
                self.put16(0x28 + 2 * i, _counts(self.accel_mg[i], num, den))
        if ctrl2 >> 4:
            num, den = self.GYRO_125 if ctrl2 & 0x02 else self.GYRO[(ctrl2 >> 2) & 3]
            for i in range(3):
                self.put16(0x22 + 2 * i, _counts(self.gyro_mdps[i], num, den))


class MPU6050Model(ChipModel):
    """InvenSense MPU-6000/6050 Register Map RM-MPU-6000A-00 rev 4.2: 0x19-0x1C, 0x3B-0x48, 0x6B, 0x75."""

    PART = "MPU-6050"
    DATASHEET = "InvenSense RM-MPU-6000A-00"
    WHO_AM_I_REG = 0x75
    WHO_AM_I = 0x68
    # SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG, ACCEL/TEMP/GYRO_OUT, PWR_MGMT_1 (SLEEP after reset), WHO_AM_I.
    RESET = dict([(0x19, 0), (0x1A, 0), (0x1B, 0), (0x1C, 0), (0x6B, 0x40), (0x75, 0x68)]
                 + [(r, 0) for r in range(0x3B, 0x49)])
    WRITABLE = (0x19, 0x1A, 0x1B, 0x1C, 0x6B)
    ACCEL = ((16384, 1000), (8192, 1000), (4096, 1000), (2048, 1000))  # AFS_SEL: LSB/g
    GYRO = ((131, 1000), (131, 2000), (41, 1250), (41, 2500))  # FS_SEL: 131, 65.5, 32.8, 16.4 LSB/(deg/s)
    TEMP_25C = -3920  # TEMP_OUT = (T - 36.53) * 340 at 25 deg C

    def on_write(self, reg, value):
        if reg == 0x6B and value & 0x80:  # DEVICE_RESET
            self.reset()

    def update_outputs(self):
        if self.regs[0x6B] & 0x40:  # asleep: the outputs do not update
            return
        self.feel()
        anum, aden = self.ACCEL[(self.regs[0x1C] >> 3) & 3]
        gnum, gden = self.GYRO[(self.regs[0x1B] >> 3) & 3]
        for i in range(3):
            self.put16(0x3B + 2 * i, _counts(self.accel_mg[i], anum, aden))
            self.put16(0x43 + 2 * i, _counts(self.gyro_mdps[i], gnum, gden))
        self.put16(0x41, self.TEMP_25C)


class ICM42670Model(ChipModel):
    """TDK ICM-42670-P, DS-000451 rev 1.0: 0x02, 0x09-0x16, 0x1F-0x21, 0x75 (user bank 0)."""

    PART = "ICM-42670"
    DATASHEET = "TDK DS-000451"
    WHO_AM_I_REG = 0x75
    WHO_AM_I = 0x67
    # SIGNAL_PATH_RESET, TEMP_DATA, ACCEL_DATA, GYRO_DATA, PWR_MGMT0, GYRO_CONFIG0, ACCEL_CONFIG0, WHO_AM_I.
    # Output registers read -32768 (0x8000) while their sensor is off.
    RESET = dict([(0x02, 0), (0x1F, 0), (0x20, 0x06), (0x21, 0x06), (0x75, 0x67), (0x09, 0), (0x0A, 0)]
                 + [(r, 0x80 if r % 2 else 0) for r in range(0x0B, 0x17)])
    WRITABLE = (0x02, 0x1F, 0x20, 0x21)
    SPI_MAX_HZ = 24000000  # SPI at up to 24 MHz
    ACCEL = ((2048, 1000), (4096, 1000), (8192, 1000), (16384, 1000))  # ACCEL_UI_FS_SEL: ±16/8/4/2 g
    GYRO = ((41, 2500), (41, 1250), (131, 2000), (131, 1000))  # GYRO_UI_FS_SEL: ±2000/1000/500/250 dps

    def on_write(self, reg, value):
        if reg == 0x02 and value & 0x10:  # SOFT_RESET_DEVICE_CONFIG
            self.reset()
        elif reg in (0x20, 0x21) and (value & 0x0F) < 5:
            self.bad_field(reg, "ODR", value & 0x0F)

    def update_outputs(self):
        pwr = self.regs[0x1F]
        if not pwr & 0x0F:
            return
        self.feel()
        anum, aden = self.ACCEL[(self.regs[0x21] >> 5) & 3]
        gnum, gden = self.GYRO[(self.regs[0x20] >> 5) & 3]
        for i in range(3):
            a = _counts(self.accel_mg[i], anum, aden) if pwr & 0x03 else -32768
            g = _counts(self.gyro_mdps[i], gnum, gden) if pwr & 0x0C else -32768
            self.put16(0x0B + 2 * i, a)
            self.put16(0x11 + 2 * i, g)


MODELS = {"LSM6DSOX": LSM6DSOXModel, "MPU-6050": MPU6050Model, "MPU6050": MPU6050Model,
          "ICM-42670": ICM42670Model, "ICM-42670-P": ICM42670Model, "ICM42670": ICM42670Model}


def model_for(part):
    cls = MODELS.get(part.upper())
    if cls is None:
        raise ValueError("the virtual board has no model of IMU %r; it emulates LSM6DSOX, MPU-6050, ICM-42670" % part)
    return cls()


class I2CBus:
    """machine.I2C's register calls over {address: chip}; an address nobody answers is ENODEV."""

    def __init__(self, chips):
        self.chips = chips
        self.reads = 0
        self._ptr = {}

    def _chip(self, addr):
        chip = self.chips.get(addr)
        if chip is None:
            raise OSError(19)  # ENODEV: nobody acknowledged the address
        return chip

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        chip = self._chip(addr)
        self.reads += 1
        chip.read_into(reg, buf)

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return bytes(buf)

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        self._chip(addr).write(reg, buf)

    def writeto(self, addr, buf, stop=True):
        """A plain write: the first byte sets the chip's register pointer, the rest are written from it."""
        chip = self._chip(addr)
        if len(buf):
            self._ptr[addr] = buf[0]
            chip.write(buf[0], buf, 1)
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        self._chip(addr).read_into(self._ptr.get(addr, 0), buf)

    def readfrom(self, addr, n, stop=True):
        buf = bytearray(n)
        self.readfrom_into(addr, buf)
        return bytes(buf)

    def scan(self):
        return sorted(self.chips)


class BusioLock:
    """CircuitPython's bus lock (busio.I2C, busio.SPI): try_lock/unlock; a transfer without it is refused."""

    locked = False

    def try_lock(self):
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self):
        self.locked = False

    def _need_lock(self):
        if not self.locked:
            raise RuntimeError("%s used without try_lock()" % type(self).__name__)


class BusioI2C(BusioLock):
    """CircuitPython busio.I2C's lock-then-transfer calls over the same chip models."""

    def __init__(self, chips):
        self._bus = I2CBus(chips)

    def writeto(self, addr, buf, start=0, end=None):
        self._need_lock()
        self._bus.writeto(addr, buf[start:end])

    def writeto_then_readfrom(self, addr, out, buf):
        self._need_lock()
        self._bus.readfrom_mem_into(addr, out[0], buf)

    def scan(self):
        return self._bus.scan()
