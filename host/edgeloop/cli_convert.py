"""`edgeloop convert`: a model in, the on-board model file out."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the model file (default: MODEL with the .elm suffix).")
@click.option("--board", help="Check that the model fits this board profile (see `edgeloop boards`).")
def convert(model, out, board):
    """Convert an int8 .tflite into edgeloop's on-board model file (.elm).

    Every op is checked against the runtime now, on the laptop: an op the
    board cannot run is refused with its name and layer. With --board the
    model file must fit the board's filesystem and the arena plus the runtime
    its heap.

    \b
    Example:
      edgeloop convert micro_speech_quantized.tflite --out speech.elm --board rp2040
    """
    from .atomic import write_bytes_atomic
    from .convert.int8 import convert_tflite
    from .errors import ConversionError

    if model.suffix.lower() != ".tflite":
        raise ConversionError(f"{model}: not a .tflite file; give an int8 .tflite model")
    result = convert_tflite(model)
    lines = []
    if board:
        from . import boards
        from .convert.fit import check_fit
        lines = check_fit(len(result.data), result.arena_size, result.params_bytes, boards.load(board))
    out = out or model.with_suffix(".elm")
    write_bytes_atomic(out, result.data)
    click.echo(f"wrote {out}: {len(result.data)} bytes, {len(result.ops)} ops, {result.macs} MACs, "
               f"arena {result.arena_size} bytes")
    for op in result.ops:
        click.echo(f"  {op.name:<20} {op.macs:>9} MACs  {op.layer}")
    for line in lines:
        click.echo(f"  fits {board}: {line}")
