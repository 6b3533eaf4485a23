"""`edgeloop bench`: a model's time per layer on a board (or a virtual one)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--model", "-m", "model", required=True, type=click.Path(path_type=Path),
              help="A model folder (model file + model.json, as `edgeloop train` writes) or an .elm file. "
                   "MACs per layer need the TFLite reference model.json names.")
@click.option("--port", "-p", help="The board to time it on (the runtime must be there: `edgeloop deploy`). "
                                   "Without it, a virtual board of --board is started for the run.")
@click.option("--board", "-b", default="rp2040", show_default=True,
              help="Board profile: of the virtual board used without --port (heap as on that board; its speed "
                   "is WebAssembly MicroPython's, not the chip's), and the chip the estimate column is for.")
@click.option("--estimate", is_flag=True,
              help="Only estimate the model on --board's chip from counted instruction figures "
                   "(boards/speed/): no board needed, before you buy one.")
@click.option("--seconds", type=click.FloatRange(0.1, 60), default=2.0, show_default=True,
              help="Board time spent on each of the two timings (per layer, whole model); at least 3 runs.")
def bench(model, port, board, seconds, estimate):
    """Time a model on a board: each layer, then the whole model.

    The model file is copied to the board's /models/ (only if it changed) and the
    board's own runtime runs it on a fixed pseudo-random input, timed by the
    board's clock: per layer (one probe call each, its cost printed) and the
    whole model without the probe, which is what the app pays per inference.

    Beside the measured times, an estimate for --board's chip: the runtime's
    instructions per op call, per MAC and per element, counted under QEMU on
    that core (Cortex-M0 for RP2040 boards, Cortex-M7 for the Nicla Vision),
    applied to the model's layers. A virtual board's µs are WebAssembly's; the
    estimate is the chip's.

    \b
    Examples:
      edgeloop bench --model models/keyword                  # on a virtual rp2040
      edgeloop bench --model models/gesture --port /dev/ttyACM0
      edgeloop bench --model speech.elm --board esp32s3 --seconds 5
      edgeloop bench --model models/keyword --board nicla_vision --estimate   # no board
    """
    from edgeloop.boards import profiles
    from edgeloop.cli.predict import terminal_progress
    from edgeloop.run import bench as B
    from edgeloop.run import predict as P

    target = P.open_target(model)  # the model is refused before any board starts
    if estimate:
        for line in B.estimate_table(target, board):
            click.echo(line)
        return
    profiles.load(board)  # an unknown profile: one line, before a board starts
    if port is None:
        with terminal_progress("virtual board") as progress:
            if progress:
                progress(0, 2)
            with B.virtual_board(board) as vport:
                if progress:
                    progress(1, 2)
                result = B.run_bench(vport, target, seconds=seconds, where=f"a virtual {board} board "
                                     "(WebAssembly MicroPython: its speed, not the chip's)")
    else:
        result = B.run_bench(port, target, seconds=seconds, where=f"the board at {port}")
    # The estimate costs the layers the bench read (no second conversion of the reference).
    rows = [(layer.op, layer.shape, layer.macs) for layer in result.layers] if result.macs is not None else None
    for line in B.table(result, B.estimate_for(target, board, rows)):
        click.echo(line)
