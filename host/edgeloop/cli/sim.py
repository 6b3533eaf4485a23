"""`edgeloop sim`: run a virtual board until stopped."""

from __future__ import annotations

import signal
import time

import click


@click.command()
@click.option("--board", default="rp2040", show_default=True,
              help="Board profile to imitate (heap, filesystem size, name); see `edgeloop boards`.")
@click.option("--flash", "flash_dir", type=click.Path(file_okay=False), default=None,
              help="Host folder that holds the board's filesystem and survives restarts "
                   "(default: a temporary folder, deleted on exit).")
@click.option("--watchdog", default=2.0, show_default=True, type=click.FloatRange(0.2, 60),
              help="Seconds a Ctrl-C may go unanswered before the stuck interpreter is restarted.")
@click.option("--imu", type=click.Path(exists=True), default=None,
              help="Feed the profile's IMU from this accelerometer recording (gesture .npy, .parquet, "
                   "or a folder of .npy takes; in g), played at its rate through the chip's registers.")
@click.option("--take", default=None, help="With a .parquet --imu: play only this take (its `file` value).")
@click.option("--imu-part", default=None,
              help="Emulate this IMU part (LSM6DSOX, MPU-6050, ICM-42670) instead of the profile's.")
@click.option("--mic", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Feed the profile's microphone (I2S or PDM) from this 16-bit mono WAV clip, at its rate.")
@click.option("--interpreter", type=click.Path(dir_okay=False), default=None,
              help="Run this unix build of MicroPython or CircuitPython instead of the WebAssembly one "
                   "(e.g. .venv/bin/micropython: viper and native modules; a CircuitPython build: its "
                   "usb_cdc data channel is a second pty). See docs/virtual-board.md.")
def sim(board, flash_dir, watchdog, imu, take, imu_part, mic, interpreter):
    """Run a virtual board: real MicroPython (WebAssembly) on a pseudo-terminal.

    Prints the port, then keeps running until Ctrl-C or SIGTERM. Any serial
    tool talks to it as to a USB board: edgeloop, mpremote, picocom. Its heap
    is capped at the profile's figure (allocating more raises MemoryError), and
    its filesystem is the --flash folder, so files survive restarts and you can
    look at them from the host.

    With --imu/--mic the board gets the profile's sensors: a `machine` module
    whose I2C finds the IMU's register model (from its datasheet) at the
    profile's bus, pins and address (or whose SPI reaches it through the
    profile's chip select), and whose I2S (or audiobusio.PDMIn)
    hears the clip; the firmware's own drivers read them, at the recording's
    rate. See docs/virtual-board.md.

    \b
    Examples:
      edgeloop sim --board rp2040
      edgeloop sim --board esp32s3 --flash ./board-files
      edgeloop sim --board rp2040 --imu ../shared/data/gestures/raw/2025-06-15T192906_wave.npy
      edgeloop sim --board nano_rp2040_connect --imu takes/ --mic yes_1000ms.wav
      edgeloop sim --board nicla_vision --imu takes.parquet      (LSM6DSOX on SPI5)
      mpremote connect /dev/pts/3 fs ls        (in another shell, with the printed port)
      edgeloop info --port /dev/pts/3
      edgeloop sim --interpreter .venv/bin/micropython       (unix MicroPython: viper, native .mpy)
      edgeloop sim --interpreter $EDGELOOP_CIRCUITPYTHON     (CircuitPython: console + data port)
    """
    from edgeloop.errors import SimError
    from edgeloop.sim import VirtualBoard
    from edgeloop.sim.sensors import describe

    def _stop(signum, frame):
        raise KeyboardInterrupt

    if interpreter and (imu or mic):
        raise SimError("--imu/--mic need the WebAssembly board's emulated sensors; "
                       "drop --interpreter, or deploy with --sensor replay")
    old = signal.signal(signal.SIGTERM, _stop)
    if interpreter:
        from edgeloop.sim.unix import UnixBoard

        vb = UnixBoard(interpreter, board=board, flash_dir=flash_dir, watchdog=watchdog)
    else:
        vb = VirtualBoard(board=board, flash_dir=flash_dir, watchdog=watchdog, imu=imu, mic=mic,
                          imu_part=imu_part, take=take)
    try:
        click.echo(vb.port)
        what = f"{vb.implementation} ({interpreter}) " if interpreter else ""
        click.echo(f"virtual {vb.board} board, {what}on {vb.port}, filesystem in {vb.flash_dir}; "
                   "Ctrl-C stops it", err=True)
        if getattr(vb, "data_port", None):
            click.echo(f"usb_cdc data channel: {vb.data_port} (live once boot.py enabled it and the "
                       "board was reset; `edgeloop deploy` does both)", err=True)
        for line in describe(vb.flash_dir):
            click.echo(line, err=True)
        while vb.running:
            time.sleep(0.5)
        raise SimError(f"the virtual board on {vb.port} stopped unexpectedly")
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()
        signal.signal(signal.SIGTERM, old)
