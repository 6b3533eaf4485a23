"""InvenSense MPU-6050 6-axis IMU (common external module for ESP32-S3 and Pico), from the
MPU-6000/6050 register map RM-MPU-6000A-00 rev 4.2.

Facts used: WHO_AM_I (0x75) reads 0x68; PWR_MGMT_1 (0x6B) resets to 0x40
(SLEEP set) — DEVICE_RESET is bit 7, CLKSEL[2:0]=1 picks the X-gyro PLL;
SMPLRT_DIV (0x19): sample rate = gyro output rate / (1 + SMPLRT_DIV), the gyro
output rate being 1 kHz when the DLPF is on (CONFIG 0x1A DLPF_CFG 1..6);
GYRO_CONFIG (0x1B) FS_SEL[4:3] and ACCEL_CONFIG (0x1C) AFS_SEL[4:3]; outputs
are big-endian, ACCEL_XOUT_H at 0x3B..0x40, TEMP_OUT 0x41..0x42, GYRO_XOUT_H
0x43..0x48. Sensitivities: 16384/8192/4096/2048 LSB/g at ±2/4/8/16 g;
131/65.5/32.8/16.4 LSB/(deg/s) at ±250/500/1000/2000 dps. Address 0x68 (AD0 low) or 0x69.
"""

from ..port import const
from .bus import SensorError
from .imu import IMU, pick

SMPLRT_DIV = const(0x19)
CONFIG = const(0x1A)
GYRO_CONFIG = const(0x1B)
ACCEL_CONFIG = const(0x1C)
ACCEL_XOUT_H = const(0x3B)
PWR_MGMT_1 = const(0x6B)
REG_WHO_AM_I = const(0x75)

ACCEL_RANGES = {2: (0, 16384), 4: (1, 8192), 8: (2, 4096), 16: (3, 2048)}
GYRO_RANGES = {250: (0, 131.0), 500: (1, 65.5), 1000: (2, 32.8), 2000: (3, 16.4)}
# DLPF_CFG -> accelerometer bandwidth (Hz); 0 is excluded because it switches the gyro rate to 8 kHz.
DLPF_BANDWIDTH = ((1, 184), (2, 94), (3, 44), (4, 21), (5, 10), (6, 5))
RATE_RANGE = (4, 1000)  # Hz: 1 kHz gyro output rate / (1 + SMPLRT_DIV), SMPLRT_DIV 0..249 (host checks models against it)


class MPU6050(IMU):
    PART = "MPU-6050"
    WHO_AM_I_REG = REG_WHO_AM_I
    WHO_AM_I = 0x68
    LITTLE_ENDIAN = False
    RAW_BYTES_GYRO = 14
    DEFAULT_ADDRESS = 0x68

    def configure(self):
        dev = self.dev
        self.reset(PWR_MGMT_1, 0x80, 100)  # DEVICE_RESET
        dev.write_u8(PWR_MGMT_1, 0x01)  # wake (SLEEP=0), clock from the X gyro PLL
        rate = self.rate_hz
        if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
            raise SensorError("sample rate %r Hz is outside the MPU-6050's 4..1000 Hz (with its low-pass filter on)" % rate)
        # Low-pass below Nyquist: the widest bandwidth that is at most rate/2.
        cfg = 6
        for code, bw in DLPF_BANDWIDTH:
            if bw * 2 <= rate:
                cfg = code
                break
        dev.write_u8(CONFIG, cfg)
        dev.write_u8(SMPLRT_DIV, int(1000 // rate) - 1)
        afs, lsb_per_g = pick(ACCEL_RANGES, self.accel_g, "accelerometer range (g)")
        dev.write_u8(ACCEL_CONFIG, afs << 3)
        if self.gyro:
            fs, lsb_per_dps = pick(GYRO_RANGES, self.gyro_dps, "gyroscope range (dps)")
            dev.write_u8(GYRO_CONFIG, fs << 3)
            self.set_scales(1000.0 / lsb_per_g, 10.0 / lsb_per_dps)
            self._src = (0, 2, 4, 8, 10, 12)  # 14-byte burst: accel, temperature, gyro
        else:
            self.set_scales(1000.0 / lsb_per_g)
            self._src = (0, 2, 4)

    def _first_reg(self):
        return ACCEL_XOUT_H
