"""`edgeloop predict`: one inference (or a batch) with edgeloop's runtime, here or on a board."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click


@click.command()
@click.option("--model", "-m", "model", required=True, type=click.Path(path_type=Path),
              help="A model folder (model file + model.json, as `edgeloop train` writes), or a model file "
                   "made by `edgeloop convert` (.elm, trees .csv).")
@click.option("--input", "-i", "input_", required=True, type=click.Path(path_type=Path),
              help="Gesture: a raw sensor window (frames x channels) in model.json's units, as .npy or .csv. "
                   "Keyword: a 16 kHz mono .wav (through the board's audio front end). Any model: its int8 "
                   "input tensor as .npy. A batch: windows stacked along a first axis.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the raw output tensor (votes, for trees) here as .npy.")
@click.option("--raw", is_flag=True, help="Print the raw output tensor instead of class names and scores.")
@click.option("--port", "-p", help="Run on the board at this serial port instead of on this computer "
                                   "(the runtime must be there: `edgeloop deploy`); also prints the latency.")
def predict(model, input_, output, raw, port):
    """Run a model on an input and print each class with its score.

    The host run uses the same code the board runs (runtime, features, audio
    front end), so the two give the same bytes. With --port the model file is
    copied to the board's /models/ (only if it changed) and the board runs it;
    the latency printed is the board's own clock around the inference.

    \b
    Examples:
      edgeloop predict --model models/gesture --input window.csv
      edgeloop predict --model models/keyword --input yes.wav --port /dev/ttyACM0
      edgeloop predict --model models/gesture_trees --input windows.npy
      edgeloop predict --model speech.elm --input features.npy --raw --output scores.npy
    """
    from edgeloop.run import predict as P

    target = P.open_target(model)  # model, then input: each refusal before any board is touched
    x = P.read_input(input_)
    if output is not None and output.is_dir():
        raise P.InputError(f"--output {output} is a folder; name a .npy file")
    with terminal_progress("predict") as progress:
        result = P.run(target, x, port=port, progress=progress)
    if output:
        import io

        import numpy as np

        from edgeloop.atomic import write_bytes_atomic

        buf = io.BytesIO()
        np.save(buf, result.raw, allow_pickle=False)
        write_bytes_atomic(output, buf.getvalue())
    for line in (raw_lines(result) if raw else lines(result)):
        click.echo(line)
    if output:
        click.echo(f"wrote {output}: {result.raw.dtype} {list(result.raw.shape)}", err=True)


@contextmanager
def terminal_progress(what: str):
    """A bar on a terminal's stderr once there is more than one step; nothing at all elsewhere
    (scripts read stdout). Yields progress(done, total), or None off a terminal."""
    from rich.console import Console

    if not Console(stderr=True).is_terminal:
        yield None
        return
    from edgeloop.cli.train import step_progress

    with step_progress() as bar:
        yield lambda done, total: bar(what, done, total) if total > 1 else None


def raw_lines(result) -> list[str]:
    import numpy as np

    return [np.array2string(result.raw, threshold=1 << 20)]


def lines(result) -> list[str]:
    """One table of classes and scores for one input; one line per row (top class) for a batch."""
    classes = result.classes
    what = "votes" if result.target.kind == "trees" else "score"
    out = [f"{result.target.path}: {result.how}"]
    width = max(len(c) for c in classes)
    if len(result.scores) == 1:
        s = result.scores[0]
        for i in sorted(range(len(classes)), key=lambda i: -s[i]):
            out.append(f"  {classes[i]:<{width}}  {s[i]:.3f}  {'#' * round(20 * max(0.0, min(1.0, s[i])))}")
        out.append(f"top: {classes[int(s.argmax())]} ({what} {s.max():.3f})")
    else:
        for k, s in enumerate(result.scores):
            out.append(f"  {k:>4}  {classes[int(s.argmax())]:<{width}}  {s.max():.3f}")
    if result.latency_us:
        import statistics

        lat = result.latency_us

        def ms(us):  # a shallow tree takes a few µs: two decimals of a ms would print 0.00
            return f"{us / 1000:.2f}" if us >= 100 else f"{us / 1000:.4f}"
        span = f" (min {ms(min(lat))}, max {ms(max(lat))})" if len(lat) > 1 else ""
        out.append(f"on the board at {result.where}: {ms(statistics.median(lat))} ms per inference"
                   f"{' median' if len(lat) > 1 else ''}{span}, the board's clock around the model alone")
    return out
