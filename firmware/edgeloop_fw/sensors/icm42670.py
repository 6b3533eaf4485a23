"""TDK InvenSense ICM-42670-P 6-axis IMU (e.g. ESP32-S3 dev kits), from datasheet DS-000451.

Facts used: WHO_AM_I (0x75) reads 0x67; SIGNAL_PATH_RESET (0x02) bit 4 is
SOFT_RESET_DEVICE_CONFIG; PWR_MGMT0 (0x1F) GYRO_MODE[3:2] and ACCEL_MODE[1:0]
(0b11 = low-noise; 0 = off); GYRO_CONFIG0 (0x20) and ACCEL_CONFIG0 (0x21) hold
UI_FS_SEL[6:5] and ODR[3:0]; outputs are big-endian, ACCEL_DATA_X1 at
0x0B..0x10 then GYRO_DATA_X1 at 0x11..0x16; a sensor that is off reads
-32768. ODR codes 5..12 = 1600/800/400/200/100/50/25/12.5 Hz. Sensitivities:
2048/4096/8192/16384 LSB/g for FS codes 0..3 (±16/8/4/2 g); 16.4/32.8/65.5/131
LSB/dps for codes 0..3 (±2000/1000/500/250 dps). Address 0x68 (AD0 low) or 0x69.
After PWR_MGMT0 is written, no register write for 200 µs; the gyro needs 45 ms to start.
"""

from ..port import const, sleep_ms
from .imu import IMU, pick, pick_rate

SIGNAL_PATH_RESET = const(0x02)
ACCEL_DATA_X1 = const(0x0B)
PWR_MGMT0 = const(0x1F)
GYRO_CONFIG0 = const(0x20)
ACCEL_CONFIG0 = const(0x21)
REG_WHO_AM_I = const(0x75)

RATES = {12.5: 12, 25: 11, 50: 10, 100: 9, 200: 8, 400: 7, 800: 6, 1600: 5}
ACCEL_RANGES = {16: (0, 2048), 8: (1, 4096), 4: (2, 8192), 2: (3, 16384)}
GYRO_RANGES = {2000: (0, 16.4), 1000: (1, 32.8), 500: (2, 65.5), 250: (3, 131.0)}


class ICM42670(IMU):
    PART = "ICM-42670"
    WHO_AM_I_REG = REG_WHO_AM_I
    WHO_AM_I = 0x67
    LITTLE_ENDIAN = False
    RAW_BYTES_GYRO = 12
    DEFAULT_ADDRESS = 0x68

    def configure(self):
        dev = self.dev
        dev.write_u8(SIGNAL_PATH_RESET, 0x10)
        sleep_ms(2)
        odr = RATES[pick_rate(RATES, self.rate_hz)]
        afs, lsb_per_g = pick(ACCEL_RANGES, self.accel_g, "accelerometer range (g)")
        dev.write_u8(ACCEL_CONFIG0, (afs << 5) | odr)
        if self.gyro:
            fs, lsb_per_dps = pick(GYRO_RANGES, self.gyro_dps, "gyroscope range (dps)")
            dev.write_u8(GYRO_CONFIG0, (fs << 5) | odr)
            dev.write_u8(PWR_MGMT0, 0x0F)  # gyro and accel low-noise
            sleep_ms(45)
            self.set_scales(1000.0 / lsb_per_g, 10.0 / lsb_per_dps)
            self._src = (0, 2, 4, 6, 8, 10)
        else:
            dev.write_u8(PWR_MGMT0, 0x03)  # accel low-noise only
            sleep_ms(1)
            self.set_scales(1000.0 / lsb_per_g)
            self._src = (0, 2, 4)

    def _first_reg(self):
        return ACCEL_DATA_X1
