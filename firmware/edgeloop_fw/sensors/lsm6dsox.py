"""ST LSM6DSOX 6-axis IMU (Arduino Nano RP2040 Connect, Nicla Vision), from the ST datasheet DS13604.

Facts used: WHO_AM_I (0x0F) reads 0x6C; CTRL1_XL (0x10) holds ODR_XL[7:4]
and FS_XL[3:2]; CTRL2_G (0x11) holds ODR_G[7:4], FS_G[3:2] and FS_125 (bit 1);
CTRL3_C (0x12) holds BDU (bit 6), IF_INC (bit 2) and SW_RESET (bit 0, clears
itself); outputs are little-endian, gyroscope at OUTX_L_G (0x22..0x27) then
accelerometer at OUTX_L_A (0x28..0x2D). Typical sensitivities: 0.061/0.122/
0.244/0.488 mg/LSB at ±2/4/8/16 g; 4.375/8.75/17.5/35/70 mdps/LSB at
±125/250/500/1000/2000 dps. I2C address 0x6A (SA0 low) or 0x6B.
"""

from ..port import const
from .imu import IMU, pick, pick_rate

REG_WHO_AM_I = const(0x0F)
CTRL1_XL = const(0x10)
CTRL2_G = const(0x11)
CTRL3_C = const(0x12)
OUTX_L_G = const(0x22)
OUTX_L_A = const(0x28)

# Output data rate (Hz) -> ODR field code, high-performance mode.
RATES = {12.5: 1, 26: 2, 52: 3, 104: 4, 208: 5, 416: 6, 833: 7, 1660: 8, 3330: 9, 6660: 10}
# full scale g -> (FS_XL code, mg per LSB); note the datasheet's out-of-order codes.
ACCEL_RANGES = {2: (0, 0.061), 16: (1, 0.488), 4: (2, 0.122), 8: (3, 0.244)}
# full scale dps -> (CTRL2_G bits 3:1, mdps per LSB); 125 dps is the FS_125 bit.
GYRO_RANGES = {125: (0b001, 4.375), 250: (0b000, 8.75), 500: (0b010, 17.5), 1000: (0b100, 35.0), 2000: (0b110, 70.0)}


class LSM6DSOX(IMU):
    PART = "LSM6DSOX"
    WHO_AM_I_REG = REG_WHO_AM_I
    WHO_AM_I = 0x6C
    LITTLE_ENDIAN = True
    RAW_BYTES_GYRO = 12
    DEFAULT_ADDRESS = 0x6A

    def configure(self):
        dev = self.dev
        self.reset(CTRL3_C, 0x01, 50)  # SW_RESET
        dev.write_u8(CTRL3_C, 0x44)  # BDU: high and low bytes from the same sample; IF_INC: burst reads
        odr = RATES[pick_rate(RATES, self.rate_hz)]
        fs, mg = pick(ACCEL_RANGES, self.accel_g, "accelerometer range (g)")
        dev.write_u8(CTRL1_XL, (odr << 4) | (fs << 2))
        if self.gyro:
            bits, mdps = pick(GYRO_RANGES, self.gyro_dps, "gyroscope range (dps)")
            dev.write_u8(CTRL2_G, (odr << 4) | (bits << 1))
            self.set_scales(mg, mdps / 100.0)  # mdps -> 0.1 dps
            self._src = (6, 8, 10, 0, 2, 4)  # burst from 0x22: gyro first, then accel
        else:
            dev.write_u8(CTRL2_G, 0)  # gyroscope powered down
            self.set_scales(mg)
            self._src = (0, 2, 4)

    def _first_reg(self):
        return OUTX_L_G if self.gyro else OUTX_L_A
