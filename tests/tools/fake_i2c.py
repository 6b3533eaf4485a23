"""Fake I2C buses with register-level models of the IMUs, written from the datasheets.

The models know nothing of the drivers: they hold a register file with the
datasheet's reset values, act on the control bits the datasheet defines
(software reset, sleep, power modes, auto-increment) and turn a *physical*
acceleration/rotation into raw counts with the datasheet's sensitivity for
the range the driver configured. A driver that writes the wrong field or
decodes with the wrong sensitivity gives the wrong physical value back.

Written in the subset MicroPython runs, so the same fakes can drive the
drivers on the virtual board.
"""


class ChipModel:
    WHO_AM_I_REG = 0
    WHO_AM_I = 0
    LITTLE_ENDIAN = False
    DEFAULTS = {}

    def __init__(self):
        self.regs = bytearray(128)
        self.accel_mg = (0, 0, 1000)
        self.gyro_mdps = (0, 0, 0)
        self.writes = []
        self.reset()

    def reset(self):
        for i in range(len(self.regs)):
            self.regs[i] = 0
        for reg, value in self.DEFAULTS.items():
            self.regs[reg] = value
        self.regs[self.WHO_AM_I_REG] = self.WHO_AM_I

    def auto_increment(self):
        return True

    def read(self, reg):
        self.update_outputs()
        return self.regs[reg & 0x7F]

    def write(self, reg, value):
        self.writes.append((reg, value))
        self.regs[reg] = value
        self.on_write(reg, value)

    def on_write(self, reg, value):
        pass

    def put16(self, reg, value):
        value = max(-32768, min(32767, int(value))) & 0xFFFF
        hi, lo = value >> 8, value & 0xFF
        if self.LITTLE_ENDIAN:
            self.regs[reg], self.regs[reg + 1] = lo, hi
        else:
            self.regs[reg], self.regs[reg + 1] = hi, lo

    def update_outputs(self):
        pass


def _counts(physical, per_count):
    # Round half away from zero, as an ADC result would be nearest-code.
    q = physical / per_count
    return int(q + 0.5) if q >= 0 else -int(-q + 0.5)


class LSM6DSOXModel(ChipModel):
    WHO_AM_I_REG = 0x0F
    WHO_AM_I = 0x6C
    LITTLE_ENDIAN = True
    DEFAULTS = {0x12: 0x04}  # CTRL3_C: IF_INC set after reset
    MG_PER_LSB = {0: 0.061, 1: 0.488, 2: 0.122, 3: 0.244}  # FS_XL code
    MDPS_PER_LSB = {0: 8.75, 1: 17.5, 2: 35.0, 3: 70.0}  # FS_G code

    def auto_increment(self):
        return bool(self.regs[0x12] & 0x04)

    def on_write(self, reg, value):
        if reg == 0x12 and value & 0x01:  # SW_RESET: registers to defaults, bit clears itself
            self.reset()

    def update_outputs(self):
        ctrl1, ctrl2 = self.regs[0x10], self.regs[0x11]
        for i in range(3):
            a = _counts(self.accel_mg[i], self.MG_PER_LSB[(ctrl1 >> 2) & 3]) if ctrl1 >> 4 else 0
            self.put16(0x28 + 2 * i, a)
            if ctrl2 >> 4:
                per = 4.375 if ctrl2 & 0x02 else self.MDPS_PER_LSB[(ctrl2 >> 2) & 3]
                g = _counts(self.gyro_mdps[i], per)
            else:
                g = 0
            self.put16(0x22 + 2 * i, g)


class MPU6050Model(ChipModel):
    WHO_AM_I_REG = 0x75
    WHO_AM_I = 0x68
    DEFAULTS = {0x6B: 0x40}  # PWR_MGMT_1: SLEEP after power-on/reset
    LSB_PER_G = (16384, 8192, 4096, 2048)
    LSB_PER_DPS = (131.0, 65.5, 32.8, 16.4)

    def on_write(self, reg, value):
        if reg == 0x6B and value & 0x80:  # DEVICE_RESET
            self.reset()

    def update_outputs(self):
        if self.regs[0x6B] & 0x40:  # asleep: the outputs do not update
            return
        afs = (self.regs[0x1C] >> 3) & 3
        fs = (self.regs[0x1B] >> 3) & 3
        for i in range(3):
            self.put16(0x3B + 2 * i, _counts(self.accel_mg[i], 1000.0 / self.LSB_PER_G[afs]))
            self.put16(0x43 + 2 * i, _counts(self.gyro_mdps[i], 1000.0 / self.LSB_PER_DPS[fs]))
        self.put16(0x41, 0)


class ICM42670Model(ChipModel):
    WHO_AM_I_REG = 0x75
    WHO_AM_I = 0x67
    DEFAULTS = {0x20: 0x06, 0x21: 0x06}  # GYRO_CONFIG0/ACCEL_CONFIG0 reset values
    LSB_PER_G = (2048, 4096, 8192, 16384)
    LSB_PER_DPS = (16.4, 32.8, 65.5, 131.0)

    def on_write(self, reg, value):
        if reg == 0x02 and value & 0x10:  # SOFT_RESET_DEVICE_CONFIG
            self.reset()

    def update_outputs(self):
        pwr = self.regs[0x1F]
        afs = (self.regs[0x21] >> 5) & 3
        fs = (self.regs[0x20] >> 5) & 3
        for i in range(3):
            # A sensor that is off reads -32768.
            a = _counts(self.accel_mg[i], 1000.0 / self.LSB_PER_G[afs]) if pwr & 0x03 else -32768
            g = _counts(self.gyro_mdps[i], 1000.0 / self.LSB_PER_DPS[fs]) if pwr & 0x0C else -32768
            self.put16(0x0B + 2 * i, a)
            self.put16(0x11 + 2 * i, g)


class FakeI2C:
    """machine.I2C's register calls over a dict of address -> ChipModel."""

    def __init__(self, chips):
        self.chips = chips
        self.reads = 0

    def _chip(self, addr):
        chip = self.chips.get(addr)
        if chip is None:
            raise OSError(19)  # ENODEV: nobody acknowledged the address
        return chip

    def readfrom_mem_into(self, addr, reg, buf):
        chip = self._chip(addr)
        self.reads += 1
        inc = chip.auto_increment()
        for i in range(len(buf)):
            buf[i] = chip.read(reg + i if inc else reg)

    def writeto_mem(self, addr, reg, buf):
        chip = self._chip(addr)
        inc = chip.auto_increment()
        for i in range(len(buf)):
            chip.write(reg + i if inc else reg, buf[i])

    def scan(self):
        return sorted(self.chips)


class FakeBusioI2C:
    """busio.I2C's lock-then-transfer calls over the same chip models."""

    def __init__(self, chips):
        self._bus = FakeI2C(chips)
        self.locked = False

    def try_lock(self):
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self):
        self.locked = False

    def writeto(self, addr, buf):
        if not self.locked:
            raise RuntimeError("busio.I2C used without try_lock()")
        self._bus.writeto_mem(addr, buf[0], buf[1:])

    def writeto_then_readfrom(self, addr, out, buf):
        if not self.locked:
            raise RuntimeError("busio.I2C used without try_lock()")
        self._bus.readfrom_mem_into(addr, out[0], buf)
