"""`edgeloop label`: review logged windows and set, import or export their labels."""

from __future__ import annotations

import datetime as dt

import click


def _line(w) -> str:
    from edgeloop.log.labels import sparkline

    when = dt.datetime.fromtimestamp(w.host_time, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    conf = "  -  " if w.confidence is None else f"{w.confidence:5.2f}"
    return (f"{w.id:>6}  {when}  {w.device_id[:12]:<12}  {(w.top_class or '-')[:10]:<10} {conf}  "
            f"{(w.label or '-')[:10]:<10}  {sparkline(w.values)}")


@click.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), metavar="PATH.sqlite|postgresql://...",
              help="The log: the SQLite file `edgeloop monitor` wrote, or the PostgreSQL database "
                   "`edgeloop collect` wrote (postgresql://USER@HOST[:PORT]/DB).")
@click.option("--set", "sets", multiple=True, metavar="ID=CLASS",
              help="Set or correct one window's label (repeatable), e.g. --set 12=wave.")
@click.option("--import", "import_from", type=click.Path(dir_okay=False),
              help="Labels from a .csv (id,label or start,end,label) or Label Studio .json export.")
@click.option("--export", "export_to", type=click.Path(dir_okay=False),
              help="Write the windows and their labels to a .csv or a Label Studio .json (tasks to label).")
@click.option("--new-class", "new_classes", multiple=True, metavar="NAME",
              help="Accept this class although the model does not have it (repeatable).")
@click.option("--review", is_flag=True, help="Ask for a label for each listed window, one by one.")
@click.option("--unlabelled", is_flag=True, help="Only windows without a label.")
@click.option("--labelled", is_flag=True, help="Only windows with a label.")
@click.option("--max-confidence", type=click.FloatRange(0, 1), help="Only windows whose top score is at most this.")
@click.option("--limit", type=click.IntRange(1), help="List at most this many windows.")
def label(db, sets, import_from, export_to, new_classes, review, unlabelled, labelled, max_confidence, limit):
    """List logged windows with their class, score, label and a sparkline of the
    signal; set, import and export labels. Labels live in the log and `edgeloop
    retrain` trains on them.

    Labels must be classes of the model that logged the window (its session's
    classes) unless named with --new-class. A file with one bad row changes
    nothing. For Label Studio, export tasks with --export tasks.json, label
    them there with the config `edgeloop label --db LOG --export x.json` prints,
    export JSON from Label Studio and bring it back with --import.

    \b
    Examples:
      edgeloop label --db log.sqlite --max-confidence 0.6
      edgeloop label --db log.sqlite --set 12=wave --set 13=idle
      edgeloop label --db log.sqlite --export tasks.json
      edgeloop label --db log.sqlite --import project-1-export.json
      edgeloop label --db log.sqlite --review --unlabelled
    """
    from edgeloop.log import labels as L

    done = False
    if sets:
        pairs = dict(L.parse_set(s) for s in sets)
        n = L.set_labels(db, pairs, source="cli", extra_classes=new_classes)
        click.echo(f"labelled {n} window{'s' * (n != 1)}")
        done = True
    if import_from:
        n = L.import_labels(db, import_from, extra_classes=new_classes)
        click.echo(f"imported {n} label{'s' * (n != 1)} from {import_from}")
        done = True
    if export_to:
        n = L.export_labels(db, export_to, unlabelled=unlabelled, labelled=labelled, max_confidence=max_confidence)
        click.echo(f"wrote {n} window{'s' * (n != 1)} to {export_to}")
        if export_to.lower().endswith(".json"):
            ws = L.load_windows(db, limit=1)
            click.echo("Label Studio labelling config for these tasks:\n"
                       + L.labelstudio_config(ws[0].classes + list(new_classes), ws[0].values.shape[1]))
        done = True
    if done and not review:
        return
    ws = L.load_windows(db, unlabelled=unlabelled, labelled=labelled, max_confidence=max_confidence, limit=limit)
    if not ws:
        click.echo("no logged windows match (only inferences logged with `edgeloop monitor --window` carry one)")
        return
    click.echo(f"{'id':>6}  {'logged (UTC)':<19}  {'device':<12}  {'class':<10} {'score':>5}  {'label':<10}  signal")
    for w in ws:
        click.echo(_line(w))
        if review:
            known = w.classes + list(new_classes)
            answer = click.prompt(f"  label ({', '.join(known)}; Enter: skip; q: quit)", default="",
                                  show_default=False).strip()
            if answer == "q":
                break
            if answer:
                L.set_labels(db, {w.id: answer}, source="review", extra_classes=new_classes)
