"""`edgeloop retrain`: parent data + new labelled data -> a candidate, promoted only if not worse."""

from __future__ import annotations

import click

DEFAULT_DATA = "../shared/data/tflm/micro_speech"


@click.command()
@click.option("--from", "parent", required=True, type=click.Path(file_okay=False, exists=True),
              help="The parent model folder (model.json, recipe.json, model file).")
@click.option("--db", type=click.Path(dir_okay=False), metavar="PATH.sqlite|postgresql://...",
              help="The log holding labelled windows (edgeloop label), an SQLite file or a PostgreSQL database "
                   "(postgresql://USER@HOST[:PORT]/DB); keyword sessions need their raw samples logged too "
                   "(monitor --window --plot).")
@click.option("--recordings", type=click.Path(file_okay=False),
              help="Keyword models: your recordings, one folder per word (yes/, no/, unknown/, silence/) "
                   "of 16 kHz mono 16-bit WAV files; name them <speaker>_nohash_<n>.wav to keep a speaker together.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the candidate model.")
@click.option("--tolerance", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="Accuracy the candidate may lose against the parent on either set (0.02 = 2 points).")
@click.option("--field-test-fraction", type=click.FloatRange(0.05, 0.95), default=0.3, show_default=True,
              help="Share of each class's field sessions (gesture) or speakers (keyword) held out for re-validation.")
@click.option("--seed", type=int, help="Seed for the held-out split and training  [default: the parent's].")
@click.option("--epochs", type=click.IntRange(1), help="CNN epochs  [default: the parent's].")
@click.option("--force", is_flag=True, help="Write the candidate even if it is worse; its lineage records that.")
@click.option("--report", type=click.Path(dir_okay=False), help="Also write an HTML report (plots embedded).")
@click.option("--data", "data_dir", default=DEFAULT_DATA, show_default=True, type=click.Path(file_okay=False),
              help="Keyword models: TFLM's micro_speech recordings (the recipe's background noise, real clips).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Keyword models: synthesized speech and features cache  [default: the user cache folder].")
@click.option("--jobs", type=click.IntRange(1), help="Keyword models: processes computing features  [default: all cores].")
def retrain(parent, db, recordings, out, tolerance, field_test_fraction, seed, epochs, force, report, data_dir,
            cache_dir, jobs):
    """Retrain a model on its own data plus new labelled data, with the
    parent's recipe, and re-validate parent and candidate side by side.

    \b
    Gesture models (--db): the parent's takes plus the labelled windows of
    the log; field windows are held out by session, never by window.
    Keyword models (--recordings): the parent's synthetic speech, made again
    from its recipe.json, plus your recordings; they are held out by
    speaker (the part of the file name before _nohash_), never by clip.
    Keyword models also take --db: labelled keyword inferences of sessions
    logged with `monitor --window --plot` (the raw samples hold the second
    the model heard); they are held out by session.

    Both are scored float / int8 under TFLM / edgeloop's runtime, on the
    parent's held-out set and on the held-out new data. The candidate is
    refused (exit code 3, the table printed, nothing written) when
    edgeloop's runtime scores it below the parent by more than --tolerance
    on either set; --force writes it anyway and records that in model.json's
    lineage, with the parent's hash and the sha256 of every data set.

    \b
    Examples:
      edgeloop label --db log.sqlite --import labels.csv
      edgeloop retrain --from models/gesture --db log.sqlite --out models/gesture-2
    \b
      # my-words/yes/me_nohash_0.wav, my-words/no/me_nohash_0.wav, ...
      # (sox take.wav -r 16000 -c 1 -b 16 my-words/yes/me_nohash_3.wav converts a take)
      edgeloop retrain --from models/keyword --recordings my-words --out models/keyword-2
      edgeloop retrain --from models/keyword --db log.sqlite --out models/keyword-3
    """
    from edgeloop.cli.train import step_progress
    from edgeloop.retrain.retrain import RetrainOptions, RetrainRefused, retrain as run

    if cache_dir is None and recordings:
        from edgeloop.cli.train_keyword import _cache_dir

        cache_dir = _cache_dir()
    opts = RetrainOptions(parent=parent, db=db, out=out, tolerance=tolerance, field_test_fraction=field_test_fraction,
                          seed=seed, epochs=epochs, force=force, recordings=recordings, data_dir=data_dir,
                          cache_dir=cache_dir, jobs=jobs)
    with step_progress() as progress:
        r = run(opts, progress)
    click.echo(f"{'set':<24} {'runner':<28} {'windows':>7} {'parent':>8} {'candidate':>9} {'change':>8}")
    for row in r.rows:
        f = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
        d = "" if row.delta is None else f"{100 * row.delta:+.1f}"
        click.echo(f"{row.set:<24} {row.runner:<28} {row.windows:>7} {f(row.parent):>8} {f(row.candidate):>9} {d:>8}")
    if report:
        from edgeloop.retrain.report import retrain_report

        click.echo(f"wrote {retrain_report(r, report)}")
    if r.promoted:
        click.echo(f"PROMOTED: wrote {out} (not worse than {parent} by more than {100 * tolerance:g} points on either set)")
    elif r.forced:
        click.echo(f"FORCED: wrote {out} although {'; '.join(r.reasons)}")
    else:
        raise RetrainRefused(f"refused: {'; '.join(r.reasons)}; nothing written (--force writes it anyway)")
