"""`edgeloop drift`: field windows in the log against the model's training reference."""

from __future__ import annotations

import click


@click.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), metavar="PATH.sqlite|postgresql://...",
              help="The log: the SQLite file `edgeloop monitor` wrote, or the PostgreSQL database "
                   "`edgeloop collect` wrote (postgresql://USER@HOST[:PORT]/DB).")
@click.option("--model", required=True, type=click.Path(file_okay=False),
              help="The model folder (model.json + training_reference.json) the board ran.")
@click.option("--any-model", is_flag=True, help="Compare every logged window, not only those of this model's hash.")
@click.option("--make-reference", is_flag=True,
              help="First (re)build the model's training_reference.json from the data its model.json names.")
@click.option("--report", type=click.Path(dir_okay=False), help="Also write an HTML report (plots embedded).")
def drift(db, model, any_model, make_reference, report):
    """Say whether the field data still looks like the training data.

    Per input feature (the board's per-window statistics: mean, min, max,
    mean absolute deviation, mean step per channel; magnitude mean and
    deviation), the population stability index and a two-sample
    Kolmogorov-Smirnov test against the training windows, and the share of
    windows the model was unsure of (top score below 0.6) against the same
    share on its held-out data; overall, per device and per day (UTC), with a
    verdict: stable, watch or drift. Exit code 0 either way: the verdict is
    the answer.

    \b
    Examples:
      edgeloop drift --db log.sqlite --model models/gesture
      edgeloop drift --db log.sqlite --model models/gesture --report drift.html
    """
    from edgeloop.retrain import drift as D

    if make_reference:
        click.echo(f"wrote {D.make_reference(model)}")
    r = D.check(db, model, any_model=any_model)
    ref = r.reference["confidence"]
    click.echo(D.verdict_line(r))
    click.echo(f"\n{'group':<22} {'windows':>7} {'unsure':>7} {'max PSI':>8}  {'feature':<10} "
               f"{'max KS':>6}  {'p':>8}  {'feature':<10} verdict")
    click.echo(f"{'held out (training)':<22} {ref['windows']:>7} {_pct(ref['low_share']):>7}")
    for g in r.groups:
        (pf, pv), (kf, (ks, p)) = g.worst_psi, g.worst_ks
        click.echo(f"{(g.by + ' ' + g.key if g.by != 'all' else g.key)[:22]:<22} {g.windows:>7} "
                   f"{_pct(g.low_share):>7} {pv:>8.3f}  {pf:<10} {ks:>6.3f}  {p:>8.2g}  {kf:<10} {g.verdict}")
    click.echo(f"\nper feature, all windows:\n{'feature':<10} {'PSI':>7} {'KS':>6} {'p':>9}")
    for name in r.reference["features"]:
        ks, p = r.overall.ks[name]
        click.echo(f"{name:<10} {r.overall.psi[name]:>7.3f} {ks:>6.3f} {p:>9.2g}")
    if report:
        from edgeloop.retrain.report import drift_report

        click.echo(f"\nwrote {drift_report(r, report)}")


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f} %"
