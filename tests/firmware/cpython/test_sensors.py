"""IMU drivers against the virtual board's register-level chip models (edgeloop/sim/board_scripts/simchips.py), under CPython.

The expected values are physical quantities the model turns into raw counts
with the datasheet sensitivity; the driver must give them back in its fixed
units (mg, 0.1 dps) within the quantisation of one count plus one unit of
rounding.
"""

import math
import sys
import types
from array import array
from pathlib import Path

import pytest


from edgeloop.sim.board_scripts.simchips import (BusioI2C, I2CBus, ICM42670Model, LSM6DSOXModel,  # noqa: E402
                                                 MPU6050Model, UnmodelledRegister)
from edgeloop.sim.board_scripts.simspi import SPIBus  # noqa: E402

from edgeloop_fw.sensors import open_imu  # noqa: E402
from edgeloop_fw.sensors.bus import SensorError  # noqa: E402
from edgeloop_fw.sensors.spi import SPIDevice
from edgeloop_fw.sensors.icm42670 import ICM42670  # noqa: E402
from edgeloop_fw.sensors.lsm6dsox import LSM6DSOX  # noqa: E402
from edgeloop_fw.sensors.mpu6050 import MPU6050  # noqa: E402

# (driver, model, address, accel ranges g -> mg/LSB, gyro ranges dps -> mdps/LSB), from the datasheets.
CHIPS = [
    (LSM6DSOX, LSM6DSOXModel, 0x6A, {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488},
     {125: 4.375, 250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}),
    (MPU6050, MPU6050Model, 0x68, {2: 1000 / 16384, 4: 1000 / 8192, 8: 1000 / 4096, 16: 1000 / 2048},
     {250: 1000 / 131, 500: 1000 / 65.5, 1000: 1000 / 32.8, 2000: 1000 / 16.4}),
    (ICM42670, ICM42670Model, 0x68, {2: 1000 / 16384, 4: 1000 / 8192, 8: 1000 / 4096, 16: 1000 / 2048},
     {250: 1000 / 131, 500: 1000 / 65.5, 1000: 1000 / 32.8, 2000: 1000 / 16.4}),
]
IDS = [c[0].PART for c in CHIPS]


def _read(imu):
    out = array("h", bytes(2 * imu.channels))
    imu.read_into(out)
    return list(out)


def _bus(kind, chip, addr):
    """The driver's first argument: an I2C bus (machine or busio) with the chip at addr, or an SPIDevice on it."""
    if kind == "spi":
        spi = SPIBus(chip)
        return SPIDevice(spi, spi.cs)
    return I2CBus({addr: chip}) if kind == "machine" else BusioI2C({addr: chip})


# Every chip on both I2C APIs, and on SPI where the part has it (the MPU-6050 is I2C only).
BUSES = [pytest.param(kind, *chip, id=f"{chip[0].PART}-{kind}") for chip in CHIPS
         for kind in ("machine", "busio", "spi") if kind != "spi" or chip[1].SPI_MAX_HZ]


@pytest.mark.parametrize("bus_kind,driver,model,addr,accel,gyro", BUSES)
def test_accel_and_gyro_every_range(driver, model, addr, accel, gyro, bus_kind):
    for g_range, mg_per_lsb in accel.items():
        for dps_range, mdps_per_lsb in gyro.items():
            chip = model()
            imu = driver(_bus(bus_kind, chip, addr), addr, rate_hz=100, accel_g=g_range, gyro_dps=dps_range)
            assert imu.channels == 6 and imu.units == ("mg",) * 3 + ("ddps",) * 3
            # Near full scale, negative, small and zero, per axis.
            accel_mg = (0.93 * g_range * 1000, -0.5 * g_range * 1000, 12.3)
            gyro_mdps = (-0.9 * dps_range * 1000, 1234.5, 0.0)
            chip.accel_mg, chip.gyro_mdps = accel_mg, gyro_mdps
            got = _read(imu)
            for i in range(3):
                tol = 0.5 * mg_per_lsb + 1
                assert abs(got[i] - accel_mg[i]) <= tol, (g_range, i, got, accel_mg)
                tol_g = 0.5 * mdps_per_lsb / 100 + 1
                assert abs(got[3 + i] - gyro_mdps[i] / 100) <= tol_g, (dps_range, i, got, gyro_mdps)


@pytest.mark.parametrize("driver,model,addr,accel,gyro", CHIPS, ids=IDS)
def test_accel_only_leaves_three_channels(driver, model, addr, accel, gyro):
    chip = model()
    imu = driver(I2CBus({addr: chip}), addr, rate_hz=100, accel_g=2)
    chip.accel_mg = (-1000.0, 250.0, 1000.0)
    assert imu.channels == 3
    got = _read(imu)
    assert [abs(g - e) <= 1 for g, e in zip(got, chip.accel_mg)] == [True] * 3


def test_exact_counts_to_milli_g():
    # 1 g at ±2 g on an MPU-6050 is 16384 counts: exactly 1000 mg; -2 g is -32768 counts: -2000 mg.
    chip = MPU6050Model()
    imu = MPU6050(I2CBus({0x68: chip}), 0x68, accel_g=2)
    chip.accel_mg = (1000.0, -2000.0, 0.0)
    assert _read(imu) == [1000, -2000, 0]


def test_config_registers_follow_the_datasheet():
    lsm = LSM6DSOXModel()
    LSM6DSOX(I2CBus({0x6A: lsm}), 0x6A, rate_hz=100, accel_g=4, gyro_dps=2000)
    assert lsm.regs[0x10] == 0x48  # ODR 104 Hz (0100), FS ±4 g (10)
    assert lsm.regs[0x11] == 0x4C  # ODR 104 Hz, FS_G ±2000 dps (11)
    assert lsm.regs[0x12] & 0x44 == 0x44  # BDU + IF_INC

    mpu = MPU6050Model()
    MPU6050(I2CBus({0x68: mpu}), 0x68, rate_hz=100, accel_g=8, gyro_dps=500)
    assert mpu.regs[0x6B] == 0x01  # awake, PLL clock
    assert mpu.regs[0x19] == 9  # 1 kHz / (1 + 9) = 100 Hz
    assert mpu.regs[0x1A] == 3  # DLPF 44 Hz <= 50 Hz Nyquist
    assert mpu.regs[0x1C] == 2 << 3 and mpu.regs[0x1B] == 1 << 3

    icm = ICM42670Model()
    ICM42670(I2CBus({0x69: icm}), 0x69, rate_hz=100, accel_g=4, gyro_dps=1000)
    assert icm.regs[0x21] == (2 << 5) | 9  # ±4 g, 100 Hz
    assert icm.regs[0x20] == (1 << 5) | 9  # ±1000 dps, 100 Hz
    assert icm.regs[0x1F] == 0x0F  # both low-noise


def test_rate_rounds_up_to_next_odr():
    lsm = LSM6DSOXModel()
    LSM6DSOX(I2CBus({0x6A: lsm}), 0x6A, rate_hz=50, accel_g=2)
    assert lsm.regs[0x10] >> 4 == 3  # 52 Hz
    assert lsm.regs[0x11] == 0  # gyro powered down when not asked for


def test_wrong_chip_names_the_part():
    chip = MPU6050Model()
    with pytest.raises(SensorError, match=r"WHO_AM_I=0x68, not 0x67 \(ICM-42670\)"):
        ICM42670(I2CBus({0x68: chip}), 0x68)


def test_absent_device_is_a_sensor_error():
    with pytest.raises(SensorError, match="no answer from I2C address 0x6a"):
        LSM6DSOX(I2CBus({}), 0x6A)


def test_bad_range_lists_the_choices():
    with pytest.raises(SensorError, match=r"accelerometer range \(g\) 3 is not supported; use one of \[2, 4, 8, 16\]"):
        MPU6050(I2CBus({0x68: MPU6050Model()}), 0x68, accel_g=3)


def test_open_imu_by_part_name_from_profile():
    chip = LSM6DSOXModel()
    imu = open_imu({"part": "LSM6DSOX", "address": 0x6A, "rate": 104}, i2c=I2CBus({0x6A: chip}))
    assert isinstance(imu, LSM6DSOX)
    with pytest.raises(SensorError, match="unknown IMU part 'BMI270'"):
        open_imu({"part": "BMI270", "address": 0x68}, i2c=I2CBus({}))


def test_fixed_point_never_needs_a_long_int():
    # raw * mul must stay a MicroPython small int (< 2**30) for every range of every chip.
    for driver, model, addr, accel, gyro in CHIPS:
        for g_range in accel:
            imu = driver(I2CBus({addr: model()}), addr, accel_g=g_range, gyro_dps=max(gyro))
            assert max(imu._muls) * 32768 < 2 ** 30
            assert math.isclose(imu._muls[0] / 32768, accel[g_range], rel_tol=2e-3)


def test_a_register_the_model_does_not_emulate_is_refused_by_name():
    # A driver writing CTRL4_C (0x13), which the LSM6DSOX model does not emulate, or writing the
    # read-only WHO_AM_I, must fail naming part and register, not be silently accepted.
    bus = I2CBus({0x6A: LSM6DSOXModel()})
    imu = LSM6DSOX(bus, 0x6A)
    with pytest.raises(UnmodelledRegister, match=r"LSM6DSOX \(virtual\): write of register 0x13 is not emulated"):
        imu.dev.write_u8(0x13, 0x02)
    with pytest.raises(UnmodelledRegister, match=r"write of register 0x0f is read-only"):
        imu.dev.write_u8(0x0F, 0)
    with pytest.raises(UnmodelledRegister, match=r"MPU-6050 \(virtual\): read of register 0x3a"):
        MPU6050(I2CBus({0x68: MPU6050Model()}), 0x68).dev.read_u8(0x3A)
    with pytest.raises(UnmodelledRegister, match=r"ICM-42670 \(virtual\): register 0x21 ODR code 3 is reserved"):
        ICM42670(I2CBus({0x68: ICM42670Model()}), 0x68).dev.write_u8(0x21, 0x03)


def test_pdm_microphone_without_pdm_input_is_refused(monkeypatch):
    """Stock MicroPython (machine.I2S, no audiobusio) must not open an I2S reader on a PDM mic's pins."""
    from edgeloop_fw.sensors.mic import open_microphone

    monkeypatch.setitem(sys.modules, "audiobusio", None)
    monkeypatch.setitem(sys.modules, "machine", types.SimpleNamespace(I2S=object))
    with pytest.raises(SensorError, match="the MP34DT05 is a PDM microphone and this port has no PDM input"):
        open_microphone({"part": "MP34DT05", "bus": "pdm", "rate": 16000})
