"""`edgeloop convert` for scikit-learn trees: each stage on the progress bar, then what was written.

Big forests take minutes to load and convert, so every stage is named on
the bar as it starts; validation runs before anything is written, so a
refusal (labels the model does not know, rounding that changes predictions)
leaves no file behind.
"""

from __future__ import annotations

from pathlib import Path

import click

from edgeloop.cli.convert_console import stage_bar


def convert_trees(model: Path, out: Path, *, c_header: Path | None, board: str | None, max_nodes: int,
                  labelled: tuple | None, validate_path: Path | None) -> None:
    from rich.console import Console

    from edgeloop.convert.sklearn_trees import convert_file
    from edgeloop.report.console import accuracy_parts
    from edgeloop.report.text import listed
    from edgeloop.report.validate import validate_trees

    shown = {}
    with stage_bar() as bar:
        task = {"id": None}

        def step(what: str, total: int | None = None) -> None:
            if task["id"] is not None:
                bar.update(task["id"], visible=False)
            task["id"] = bar.add_task(what, total=total)

        def check(estimator, converted) -> None:
            if labelled is None:
                return
            x, y, names = labelled
            step("validating", len(x))
            shown["accuracy"], shown["notes"] = validate_trees(
                estimator, converted, x, y, validate_path.name, class_names=names,
                progress=lambda done, total: bar.update(task["id"], completed=done))

        info = convert_file(model, out, c_header=c_header, board=board, max_nodes=max_nodes, step=step, check=check)
    click.echo(f"wrote {out}: {info.kind}, {info.n_trees} trees, {info.n_nodes} nodes, "
               f"{info.n_leaves} leaves, {info.n_features} int16 features, {info.n_classes} classes")
    if c_header:
        click.echo(f"wrote {c_header}: emlearn C header")
    for line in info.fit:
        click.echo(f"  fits {board}: {line}")
    if "accuracy" in shown:
        Console(soft_wrap=False, width=120).print(*accuracy_parts(shown["accuracy"]))
        for note in shown["notes"]:
            click.echo(f"note: {note}")
    elif info.rounded:
        click.echo(f"note: {info.rounded} of {info.n_nodes} thresholds (on features {listed(info.rounded_features)}) "
                   "lie between integers: the model was trained on fractional features, and the board compares "
                   "int16 features, so those splits move to the next integer; scale the features to integers and "
                   "retrain, or pass --validate data to see what it changes")
