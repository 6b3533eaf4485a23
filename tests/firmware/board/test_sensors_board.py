"""The IMU drivers on the rp2040 virtual board (real MicroPython, heap capped) against the same
datasheet register models as the CPython tests, plus: reading a sample, through the register
model the virtual board uses, allocates nothing (over I2C, and over SPI with its chip select).

The drivers are the deployed firmware (.mpy through edgeloop's deploy); the
register models (the virtual board's simchips.py) go beside them through the same deploy library.
"""

from pathlib import Path

import pytest
from tests.tools.paths import REPO

pytestmark = pytest.mark.sim

SETUP = """
import gc
from array import array
from simchips import I2CBus, BusioI2C, LSM6DSOXModel, MPU6050Model, ICM42670Model
from simspi import SPIBus
"""
DRIVERS = """
from edgeloop_fw.sensors.lsm6dsox import LSM6DSOX
from edgeloop_fw.sensors.mpu6050 import MPU6050
from edgeloop_fw.sensors.icm42670 import ICM42670
from edgeloop_fw.sensors.spi import SPIDevice
out = array('h', bytes(12))
"""
# One chip per execution: this board collects garbage only between them.
CHIP = """
name, drv, model, addr = %r, %s, %s, %#x
chip = model()
if name.endswith('-SPI'):
    spi = SPIBus(chip)
    imu = drv(SPIDevice(spi, spi.cs), None, rate_hz=100, accel_g=2, gyro_dps=250)
elif name.endswith('-busio'):  # CircuitPython's API: try_lock, writeto_then_readfrom
    imu = drv(BusioI2C({addr: chip}), addr, rate_hz=100, accel_g=2, gyro_dps=250)
else:
    imu = drv(I2CBus({addr: chip}), addr, rate_hz=100, accel_g=2, gyro_dps=250)
chip.accel_mg = (1000.0, -500.0, 12.0)
chip.gyro_mdps = (-100000.0, 2000.0, 0.0)
imu.read_into(out)
print('VAL', name, list(out[:6]))
# A whole sample, register model included (ints in: what the virtual board's recordings feed it).
chip.accel_mg = (1000, -500, 12)
chip.gyro_mdps = (-100000, 2000, 0)
_ = 0  # the loop's name, in the globals before measuring: a new global can grow their dict
gc.collect()
a0 = gc.mem_alloc()
for _ in range(500):
    imu.read_into(out)
print('ALLOC', name, gc.mem_alloc() - a0)
"""


def test_drivers_on_micropython_and_circuitpython(any_board):
    """Over machine-style I2C, busio-style I2C and SPI, on the virtual board and the unix ports."""
    fw_board = any_board
    scripts = REPO / "host" / "edgeloop" / "sim" / "board_scripts"
    fw_board.put({f"/lib/{name}": (scripts / name).read_bytes() for name in ("simchips.py", "simspi.py")})
    chips = [CHIP % args for args in (("LSM6DSOX", "LSM6DSOX", "LSM6DSOXModel", 0x6A),
                                      ("MPU6050", "MPU6050", "MPU6050Model", 0x68),
                                      ("ICM42670", "ICM42670", "ICM42670Model", 0x68),
                                      ("LSM6DSOX-SPI", "LSM6DSOX", "LSM6DSOXModel", 0),
                                      ("LSM6DSOX-busio", "LSM6DSOX", "LSM6DSOXModel", 0x6A),
                                      ("MPU6050-busio", "MPU6050", "MPU6050Model", 0x68),
                                      ("ICM42670-busio", "ICM42670", "ICM42670Model", 0x68))]
    lines = fw_board.run([SETUP, DRIVERS, *chips]).splitlines()
    vals = {ln.split()[1]: eval(ln.split(" ", 2)[2]) for ln in lines if ln.startswith("VAL")}
    allocs = {ln.split()[1]: int(ln.split()[2]) for ln in lines if ln.startswith("ALLOC")}
    names = {"LSM6DSOX", "MPU6050", "ICM42670", "LSM6DSOX-SPI", "LSM6DSOX-busio", "MPU6050-busio", "ICM42670-busio"}
    assert set(vals) == names
    for name, v in vals.items():
        for got, want in zip(v, (1000, -500, 12, -1000, 20, 0)):
            assert abs(got - want) <= 1, (name, v)
    assert allocs == dict.fromkeys(names, 0)
