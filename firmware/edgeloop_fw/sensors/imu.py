"""What every IMU driver shares: fixed output units and allocation-free scaling.

Every driver reports int16 in the same units whatever the chip or range, so
models and recordings do not depend on the part:

    accelerometer x, y, z   milli-g          (mg;  ±32767 mg covers ±16 g)
    gyroscope     x, y, z   0.1 degree/s     (ddps; ±3276.7 dps covers ±2000 dps)

Conversion is fixed point, decided once at configure time from the datasheet
sensitivity: value = (raw * mul + 2**14) >> 15 with mul = round(units_per_LSB
* 2**15). mul stays below 2**15 for every supported range, so raw * mul stays
below 2**30 — a MicroPython small int, never a heap-allocated long.
"""

from ..port import const, sleep_ms
from .bus import I2CDevice, SensorError

SHIFT = const(15)
_HALF = const(1 << 14)

ACCEL_UNITS = "mg"
GYRO_UNITS = "ddps"


def fixed_mul(units_per_lsb):
    mul = int(units_per_lsb * (1 << SHIFT) + 0.5)
    if not 0 < mul < (1 << 15):
        raise SensorError("sensitivity %r units/LSB is outside the fixed-point range" % units_per_lsb)
    return mul


def pick(table, wanted, what):
    """The table key for `wanted`, or an error listing the legal choices."""
    if wanted in table:
        return table[wanted]
    raise SensorError("%s %r is not supported; use one of %s" % (what, wanted, sorted(table)))


def pick_rate(rates, wanted_hz):
    """The lowest output data rate at or above `wanted_hz` from {hz: code}."""
    best = None
    for hz in rates:
        if hz >= wanted_hz and (best is None or hz < best):
            best = hz
    if best is None:
        raise SensorError("sample rate %r Hz is above this sensor's fastest rate %r Hz" % (wanted_hz, max(rates)))
    return best


class IMU:
    """Base for the register-level drivers; subclasses fill in the chip specifics."""

    PART = ""
    WHO_AM_I_REG = 0
    WHO_AM_I = 0
    LITTLE_ENDIAN = False

    def __init__(self, bus, address=None, rate_hz=100, accel_g=4, gyro_dps=None):
        """`bus`: an I2C bus (with the chip's `address`) or an open register device (an SPIDevice).

        `gyro_dps=None` leaves the gyroscope off: 3 channels (accelerometer only).
        """
        self.dev = bus if hasattr(bus, "read_u8") else I2CDevice(bus, address)
        self.gyro = gyro_dps is not None
        self.channels = 6 if self.gyro else 3
        self.names = ("ax", "ay", "az", "gx", "gy", "gz")[: self.channels]
        self.units = (ACCEL_UNITS,) * 3 + ((GYRO_UNITS,) * 3 if self.gyro else ())
        self.rate_hz = rate_hz
        self.accel_g = accel_g
        self.gyro_dps = gyro_dps
        self._muls = [0] * 6
        self._raw = bytearray(self.RAW_BYTES_GYRO if self.gyro else 6)
        self.check_identity()
        self.configure()

    def check_identity(self):
        got = self.dev.read_u8(self.WHO_AM_I_REG)
        if got != self.WHO_AM_I:
            raise SensorError("the chip at %s says WHO_AM_I=0x%02x, not 0x%02x (%s); "
                              "check the part and its wiring in the board profile"
                              % (self.dev.where, got, self.WHO_AM_I, self.PART))

    def configure(self):
        raise NotImplementedError

    def reset(self, reg, bit, tries):
        """Set a self-clearing reset bit and wait (1 ms steps) until the chip clears it."""
        dev = self.dev
        dev.write_u8(reg, bit)
        for _ in range(tries):
            sleep_ms(1)
            if not dev.read_u8(reg) & bit:
                return
        raise SensorError("%s did not finish its reset" % self.PART)

    def set_scales(self, accel_mg_per_lsb, gyro_ddps_per_lsb=None):
        m = fixed_mul(accel_mg_per_lsb)
        self._muls[0] = self._muls[1] = self._muls[2] = m
        if gyro_ddps_per_lsb is not None:
            g = fixed_mul(gyro_ddps_per_lsb)
            self._muls[3] = self._muls[4] = self._muls[5] = g

    def read_into(self, out, offset=0):
        """Read one sample of every channel into out[offset:offset+channels] (int16 array). No allocation."""
        raw = self._raw
        self.dev.read_into(self._first_reg(), raw)
        self._convert(raw, out, offset)

    def _first_reg(self):
        raise NotImplementedError

    def _convert(self, raw, out, offset):
        # `raw` is laid out in output channel order (drivers read so it is).
        muls = self._muls
        le = self.LITTLE_ENDIAN
        for ch in range(self.channels):
            i = self._src[ch]
            if le:
                v = raw[i] | (raw[i + 1] << 8)
            else:
                v = (raw[i] << 8) | raw[i + 1]
            if v & 0x8000:
                v -= 0x10000
            out[offset + ch] = (v * muls[ch] + _HALF) >> SHIFT
