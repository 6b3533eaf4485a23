"""`edgeloop retrain`: parent data + labelled field windows -> a candidate, promoted only if not worse."""

from __future__ import annotations

import click


@click.command()
@click.option("--from", "parent", required=True, type=click.Path(file_okay=False, exists=True),
              help="The parent model folder (model.json, recipe.json, model file).")
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="The log holding labelled windows.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the candidate model.")
@click.option("--tolerance", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="Accuracy the candidate may lose against the parent on either set (0.02 = 2 points).")
@click.option("--field-test-fraction", type=click.FloatRange(0.05, 0.95), default=0.3, show_default=True,
              help="Share of each class's field sessions held out for re-validation.")
@click.option("--seed", type=int, help="Seed for the field split and training  [default: the parent's].")
@click.option("--epochs", type=click.IntRange(1), help="CNN epochs  [default: the parent's].")
@click.option("--force", is_flag=True, help="Write the candidate even if it is worse; its lineage records that.")
@click.option("--report", type=click.Path(dir_okay=False), help="Also write an HTML report (plots embedded).")
def retrain(parent, db, out, tolerance, field_test_fraction, seed, epochs, force, report):
    """Retrain a gesture model on its own data plus the labelled field windows,
    with the parent's recipe, and re-validate parent and candidate side by side:
    float / int8 / edgeloop runtime, on the parent's held-out takes and on
    held-out field sessions (split by session, never by window).

    The candidate is refused (exit code 3, nothing written) when edgeloop's
    runtime scores it below the parent by more than --tolerance on either set;
    --force writes it anyway and records that in model.json's lineage.

    \b
    Example:
      edgeloop label --db log.sqlite --import labels.csv
      edgeloop retrain --from models/gesture --db log.sqlite --out models/gesture-2
    """
    from edgeloop.cli.train import step_progress
    from edgeloop.retrain.retrain import RetrainOptions, RetrainRefused, retrain as run

    opts = RetrainOptions(parent=parent, db=db, out=out, tolerance=tolerance, field_test_fraction=field_test_fraction,
                          seed=seed, epochs=epochs, force=force)
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
