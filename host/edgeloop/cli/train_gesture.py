"""`edgeloop train gesture`: recordings in, on-board model + MODEL_CARD.md + recipe.json out."""

from __future__ import annotations

import click


@click.command()
@click.option("--data", required=True, type=click.Path(),
              help="A .parquet/.csv table (time, x, y, z, activity[, file, subject, gx, gy, gz]) "
                   "or a folder of them, e.g. what `edgeloop record` wrote.")
@click.option("--out", default="models/gesture", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the model, MODEL_CARD.md, model.json and recipe.json.")
@click.option("--model", "kind", type=click.Choice(["cnn", "trees"]), default="cnn", show_default=True,
              help="cnn: int8 1D CNN (needs the tf extra); trees: random forest via emlearn on window features.")
@click.option("--window", type=int, default=50, show_default=True, help="Window length in frames (samples).")
@click.option("--hop", type=int, default=25, show_default=True, help="Frames between windows on the board.")
@click.option("--train-hop", type=int, help="Frames between training windows  [default: hop // 5].")
@click.option("--epochs", type=int, default=40, show_default=True, help="CNN training epochs.")
@click.option("--trees", "n_trees", type=int, default=10, show_default=True, help="Trees in the forest.")
@click.option("--depth", type=int, default=8, show_default=True, help="Maximum tree depth.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the split and the training.")
@click.option("--test-fraction", type=float, default=0.25, show_default=True,
              help="Share of each class's takes held out for scoring.")
@click.option("--units", type=click.Choice(["auto", "g", "mg"]), default="auto", show_default=True,
              help="Units of x, y, z in tables without a sidecar (auto: from gravity).")
@click.option("--board-time/--no-board-time", default=True, show_default=True,
              help="Time the model on a virtual RP2040 board for the card (needs Node; skipped if absent).")
def gesture(data, out, kind, window, hop, train_hop, epochs, n_trees, depth, seed, test_fraction, units, board_time):
    """Train a gesture classifier and write what the board needs.

    Classes come from the data's `activity` column (or the label of each
    `edgeloop record` take). Whole takes are held out per class for scoring,
    never single windows, and the card reports float, int8 (TFLM) and
    on-board-runtime accuracy per class on them.

    \b
    Examples:
      edgeloop train gesture --data ../shared/data/gestures/cgestures.parquet --out models/gesture/
      edgeloop train gesture --data dataset/ --out models/mine/ --model trees --window 100 --hop 50
    """
    from edgeloop.cli.train import step_progress
    from edgeloop.train.gesture import GestureOptions, train as run

    opts = GestureOptions(data=data, out=out, window=window, hop=hop, train_hop=train_hop, model=kind,
                          epochs=epochs, trees=n_trees, depth=depth, seed=seed, test_fraction=test_fraction,
                          units=units, board_time=board_time)
    with step_progress() as progress:
        info = run(opts, progress)
    ev = info.evaluation
    names = ev["runners"]
    click.echo(f"wrote {out}: {info.model['file']} ({info.model['bytes']:,} bytes), MODEL_CARD.md, "
               f"model.json, recipe.json")
    click.echo(f"classes {', '.join(info.classes)}; held out {len(info.split['test'])} takes "
               f"({ev['windows']} windows): " + ", ".join(f"{names[r]} {100 * ev['overall'][r]:.1f} %" for r in names))
