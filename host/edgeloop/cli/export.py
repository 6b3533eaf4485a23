"""`edgeloop export`: a retraining set from the inference log."""

from __future__ import annotations

import click


@click.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), metavar="PATH.sqlite|postgresql://...",
              help="The log: the SQLite file `edgeloop monitor` wrote, or the PostgreSQL database "
                   "`edgeloop collect` wrote (postgresql://USER@HOST[:PORT]/DB).")
@click.option("--since", help="Only inferences logged at or after this time (Unix seconds or ISO 8601).")
@click.option("--model", help="Only inferences of this model hash (a prefix is enough).")
@click.option("--max-confidence", type=click.FloatRange(0, 1),
              help="Only windows whose top score is at most this (the ones the model was unsure of).")
@click.option("--label-from", type=click.Path(exists=True, dir_okay=False),
              help="CSV of labels: columns id,label or start,end,label (default: the model's top class).")
@click.option("--format", "fmt", type=click.Choice(["npz", "csv", "parquet"]), required=True,
              help="npz: arrays x (N, samples, channels), y; csv/parquet: time,x,y,z,subject,file,activity rows.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write the set to.")
@click.option("--kept", is_flag=True,
              help="Only the windows the board's capture rules kept (deploy --keep-*), with or without --window.")
@click.option("--rule", type=click.Choice(["below", "margin", "class", "random"]),
              help="With --kept: only the windows this capture rule kept.")
@click.option("--detections", is_flag=True,
              help="Export the logged detections (keyword spotting) as one table, csv or parquet, instead of windows.")
def export(db, since, model, max_confidence, label_from, fmt, out, kept, rule, detections):
    """Export logged input windows as a retraining set.

    Only inferences logged with `edgeloop monitor --window` carry their
    input window. The csv/parquet layout matches the gesture training data.

    With --kept, exports the windows the board's capture rules kept
    (`edgeloop deploy --keep-*`), each with its inference's class and
    confidence; --rule narrows them to one rule.

    With --detections, writes detections.csv/.parquet instead: class, score,
    time and the window index that joins each to its inference (--since and
    --model select them).

    \b
    Examples:
      edgeloop export --db log.sqlite --max-confidence 0.6 --format parquet --out retrain/
      edgeloop export --db log.sqlite --kept --rule below --format npz --out review/
      edgeloop export --db log.sqlite --detections --format csv --out review/
    """
    from edgeloop.log.export import ExportError, export as run_export, export_detections

    if detections:
        if max_confidence is not None or label_from or kept or rule:
            raise ExportError("--max-confidence, --label-from, --kept and --rule select windows; with --detections "
                              "use --since or --model")
        r = export_detections(db, out, fmt=fmt, since=since, model=model)
        click.echo(f"wrote {r['detections']} detections to {r['path']}")
        return

    r = run_export(db, out, fmt=fmt, since=since, model=model, max_confidence=max_confidence,
                   label_from=label_from, kept=kept, rule=rule)
    click.echo(f"wrote {r['windows']} windows of {r['shape'][0]}x{r['shape'][1]} "
               f"({', '.join(r['classes'])}) to {r['path']}")
