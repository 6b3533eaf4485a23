"""Sensors by name, from the small config the host deploys (board profile sensors + stream settings).

Only the driver that is asked for gets imported, so a board pays heap for one
chip's code, not all of them. Every sensor offers the same surface:
`channels`, `names`, `units`, `rate_hz`, and `read_into(out, offset)` (one
frame of int16) or, for audio, `read_block(out, frames)`.
"""

from .bus import SensorError

_IMUS = {
    "LSM6DSOX": ("lsm6dsox", "LSM6DSOX"),
    "MPU-6050": ("mpu6050", "MPU6050"),
    "MPU6050": ("mpu6050", "MPU6050"),
    "ICM-42670": ("icm42670", "ICM42670"),
    "ICM-42670-P": ("icm42670", "ICM42670"),
    "ICM42670": ("icm42670", "ICM42670"),
}


def _driver(part):
    key = part.upper()
    if key not in _IMUS:
        raise SensorError("unknown IMU part %r; supported: LSM6DSOX, MPU-6050, ICM-42670" % part)
    module, cls = _IMUS[key]
    mod = __import__("edgeloop_fw.sensors." + module, None, None, (cls,))
    return getattr(mod, cls)


def open_imu(cfg, i2c=None):
    """An IMU from {"part", "address", "bus", "pins", "rate", "accel_g", "gyro_dps"}; `i2c` overrides the bus.

    A bus named "spi…" (the Nicla Vision's LSM6DSOX on spi5) is opened as an
    SPIDevice with the profile's chip select; anything else is I2C.
    """
    driver = _driver(cfg.get("part", ""))
    bus = cfg.get("bus") or ""
    if i2c is None and bus.startswith("spi"):
        from .spi import open_spi
        dev, address = open_spi(bus, cfg.get("pins"), cfg.get("baudrate", 1000000)), None
    else:
        if i2c is None:
            from .bus import open_i2c
            i2c = open_i2c(bus, cfg.get("pins"), cfg.get("freq", 400000))
        dev, address = i2c, cfg.get("address") or driver.DEFAULT_ADDRESS
    return driver(dev, address, rate_hz=cfg.get("rate", 100), accel_g=cfg.get("accel_g", 4),
                  gyro_dps=cfg.get("gyro_dps"))


def open_sensor(cfg):
    """The sensor a config names: kind "replay", "imu" or "microphone"."""
    kind = cfg.get("kind", "")
    if kind == "replay":
        from .replay import ReplaySensor
        return ReplaySensor(cfg.get("file", "/replay.bin"), loop=cfg.get("loop", True))
    if kind == "imu":
        return open_imu(cfg)
    if kind == "microphone":
        from .mic import open_microphone
        return open_microphone(cfg)
    raise SensorError("unknown sensor kind %r; use replay, imu or microphone" % kind)
