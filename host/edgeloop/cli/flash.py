"""`edgeloop flash`: MicroPython or CircuitPython onto a board in one command."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--board", "-b", required=True, metavar="NAME", help="Board profile (see `edgeloop boards`).")
@click.option("--port", "-p", metavar="PORT", help="Serial port of the board (to reboot it into its bootloader, "
              "or esptool's port).")
@click.option("--firmware", "firmware_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="A local firmware file (.uf2 / .bin / .dfu for the board).")
@click.option("--micropython", metavar="VERSION", help="Official MicroPython release, e.g. 1.24.1 (downloaded "
              "once, cached with its SHA-256).")
@click.option("--circuitpython", metavar="VERSION", help="Official CircuitPython release, e.g. 9.2.1.")
@click.option("--sha256", metavar="HEX", help="Refuse a download whose SHA-256 differs from this.")
@click.option("--erase", is_flag=True, help="Erase the whole flash first (esptool boards; deletes the filesystem).")
@click.option("--drive", type=click.Path(file_okay=False), metavar="PATH",
              help="The mounted bootloader drive (RPI-RP2) or CIRCUITPY drive, if not found by itself.")
@click.option("--deploy", is_flag=True, help="After flashing, deploy edgeloop's on-board code (and --model files).")
@click.option("--model", "-m", "models", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="With --deploy: a model file to put in /models/ (repeatable).")
@click.option("--wait", default=20.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the board's drive or serial port to appear.")
@click.option("-v", "--verbose", is_flag=True, help="Show each external command and tool output.")
def flash(board, port, firmware_file, micropython, circuitpython, sha256, erase, drive, deploy, models, wait,
          verbose):
    """Write MicroPython or CircuitPython to a board, then find it again on serial.

    The image is checked against the board profile first (UF2 family and
    addresses, ESP chip, DFU flash layout); nothing is erased or written
    unless it passes. RP2040 boards are copied to their RPI-RP2 drive
    (rebooted there from --port if given), ESP32-S3 goes through esptool,
    Nicla Vision through dfu-util. The board that comes back on serial is
    asked who it is (as `edgeloop info`); with --deploy it then gets
    edgeloop's firmware and the --model files (CircuitPython: through the
    CIRCUITPY drive, or the REPL when no drive is mounted). docs/boards.md
    has the steps per board and what each error means.

    \b
    Examples:
      edgeloop flash --board rp2040 --micropython 1.24.1
      edgeloop flash --board esp32s3 --port /dev/ttyACM0 --micropython 1.24.1 --erase
      edgeloop flash --board nicla_vision --firmware ARDUINO_NICLA_VISION-20241129-v1.24.1.dfu
      edgeloop flash --board rp2040 --circuitpython 9.2.1 --deploy -v
      edgeloop flash --board rp2040 --firmware RPI_PICO-20241129-v1.24.1.uf2 --deploy -m gesture.elm
    """
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn

    from edgeloop.cli.progress import progress_bar
    from edgeloop.errors import FlashError
    from edgeloop.flash import after, run

    with progress_bar(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn()) as bar:
        console = bar.console
        task = {"id": None}

        def step(text):
            if task["id"] is not None:
                bar.update(task["id"], visible=False)
            task["id"] = bar.add_task(text, total=None)
            console.print(f"[bold]{text}[/]")

        def progress(done, total):
            if task["id"] is not None:
                bar.update(task["id"], completed=done, total=total or None)

        report = run.Reporter(step=step, progress=progress,
                              command=lambda argv: verbose and console.print(f"$ {run.shell(argv)}", markup=False,
                                                                             highlight=False, soft_wrap=True),
                              info=lambda text: verbose and console.print(text, markup=False, highlight=False,
                                                                          soft_wrap=True))
        if models and not deploy:
            raise FlashError("--model goes with --deploy (the model is deployed after the firmware)")
        from edgeloop.deploy.firmware import model_files

        model_files(models)  # a missing model fails now, not after the board was flashed
        result = run.flash_board(board, port=port, firmware_file=firmware_file, micropython=micropython,
                                 circuitpython=circuitpython, erase=erase, drive=drive, sha256=sha256,
                                 report=report, wait_timeout=wait)
        click.echo(f"flashed {result.image.name} to {result.board}" +
                   (f"; the board is back on {result.port}" if result.port else ""))
        for note in result.notes:
            click.echo(f"note: {note}")
        info = None
        if result.port:
            step(f"asking the board on {result.port} who it is")
            info = after.identify(result.port, result.profile, timeout=wait)
            click.echo(f"board: {after.describe(info)}")
            if note := after.mismatch_note(info, result.profile):
                click.echo(f"note: {note}")
        if not deploy:
            if result.port:
                click.echo(f"next: edgeloop deploy --port {result.port} --board {result.board}")
            return
        step("deploying edgeloop" + (f" and {len(models)} model(s)" if models else ""))
        kind = info["name"] if info else ("circuitpython" if circuitpython else "micropython")
        done = after.deploy(result.port, result.profile, kind, models=models,
                            drive=drive if drive and (Path(drive) / "boot_out.txt").is_file() else None,
                            progress=lambda d, t, label="": progress(d, t))
    click.echo(f"deployed edgeloop to {done.where} over {done.via}: {len(done.sent)} file(s) sent, "
               f"{len(done.unchanged)} unchanged")
    for note in done.notes:
        click.echo(f"note: {note}")
    if done.reset_needed:
        click.echo("boot.py changed: press the board's reset button once so usb_cdc.data (the stream port) "
                   "is enabled")
