"""`edgeloop predict`: one inference (or a batch) with edgeloop's runtime, here or on a board."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--model", "-m", "model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model file made by `edgeloop convert` (.elm).")
@click.option("--input", "-i", "input_", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A .npy array: the model's int8 input, or a batch of them along the first axis.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the raw output tensor here as .npy (default: print it).")
@click.option("--port", "-p", help="Run on the board at this serial port instead of on this computer.")
def predict(model, input_, output, port):
    """Run a converted model on an input: under CPython, or on the board at --port.

    The host run uses the same runtime code the board runs, so the two give
    the same bytes. With --port the model is copied to the board's /models/
    (only if it changed) and the board runs it; the runtime must already be
    there (`edgeloop deploy`).

    \b
    Examples:
      edgeloop predict --model speech.elm --input features.npy
      edgeloop predict --model speech.elm --input batch.npy --output scores.npy --port /dev/ttyACM0
    """
    import numpy as np

    from edgeloop.atomic import write_bytes_atomic
    from edgeloop.errors import ModelError
    from edgeloop.run.predict import predict as run

    try:
        x = np.load(input_, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read {input_} as a .npy array: {e}") from None
    y = run(model, x, port=port)
    if output:
        import io
        buf = io.BytesIO()
        np.save(buf, y, allow_pickle=False)
        write_bytes_atomic(output, buf.getvalue())
        click.echo(f"wrote {output}: {y.dtype} {list(y.shape)}")
    else:
        click.echo(np.array2string(y, threshold=1 << 20))
