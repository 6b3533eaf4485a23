"""`edgeloop record`: labelled raw sensor takes for a dataset."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--label", required=True, help="Class of what you are doing during the take (e.g. wave).")
@click.option("--seconds", type=float, default=10, show_default=True,
              help="Length of the take.")
@click.option("--out", default="dataset", show_default=True, type=click.Path(file_okay=False),
              help="Dataset folder; one .csv + .json per take.")
@click.option("--port", "-p", help="Serial port of the board (default: $EDGELOOP_PORT, or the one board found).")
@click.option("--db", type=click.Path(dir_okay=False), help="Also log the raw samples to this SQLite file.")
@click.option("--edge-impulse", is_flag=True, help="Also write the take in Edge Impulse's data acquisition JSON.")
@click.option("--wav", "wav_dir", type=click.Path(file_okay=False),
              help="Microphone takes: also write the first --seconds as WAV in WAV_DIR/<label>/ "
                   "(one folder per word: what `edgeloop retrain --recordings WAV_DIR` reads).")
@click.option("--speaker", default=None, metavar="NAME",
              help="Whose voice (letters, digits, '-'): the WAV is NAME_nohash_<n>.wav, and retraining keeps "
                   "one speaker's takes together when it holds some out. Default: your login name.")
def record(label, seconds, out, port, db, edge_impulse, wav_dir, speaker):
    """Record a labelled take of raw sensor data from the board.

    Starts the app on the board in record mode; the take is --seconds of
    samples at the sensor's rate, counted from the board's first frame. If
    the app does not start, the board's own error line is printed (exit 1).

    \b
    Examples:
      edgeloop record --label wave --seconds 10 --out dataset/ --edge-impulse
      edgeloop record --label yes --seconds 1 --wav myvoice/ --speaker ana   # a keyword take
    """
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    from edgeloop.cli.progress import progress_bar
    from edgeloop.stream.run import check_seconds, record as run_record

    check_seconds(seconds)
    if wav_dir is not None:
        from edgeloop.train.recordings import check_speaker
        speaker = speaker or _login()
        check_speaker(speaker)  # before the port: a bad name never costs a take

    with progress_bar(TextColumn(f"recording '{label}'"), BarColumn(), TextColumn("{task.fields[samples]} samples"),
                      TimeRemainingColumn()) as bar:
        task = bar.add_task("rec", total=seconds, samples=0)
        state = {}

        def on_tick(stats):
            import time
            state.setdefault("t0", time.monotonic())
            bar.update(task, completed=min(seconds, time.monotonic() - state["t0"]), samples=stats.samples)

        take = run_record(port=port, label=label, seconds=seconds, out=out, db=db, edge_impulse=edge_impulse,
                          on_tick=on_tick)
    if wav_dir is not None:
        from edgeloop.train.recordings import save_take
        save_take(take, Path(wav_dir), speaker, seconds)
    lost = f", {take.gaps} samples missing" if take.gaps else ""
    click.echo(f"recorded {take.n_samples} samples at {take.rate_hz} Hz x {take.channels} channels{lost}: "
               + ", ".join(str(p) for p in take.files))


def _login() -> str:
    """The login name, reduced to what --speaker accepts ('me' when nothing is left)."""
    import getpass
    import re

    try:
        name = getpass.getuser()
    except Exception:  # no login name in this environment
        name = ""
    return re.sub(r"[^A-Za-z0-9-]", "", name) or "me"

