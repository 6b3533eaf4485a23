"""`edgeloop train`: a group with one sub-command per task, each in its own module.

Sub-commands are imported only when they run (TensorFlow is heavy). To add
one, add a line to SUBCOMMANDS and a module train_<name>.py with a command `<name>`.
"""

from __future__ import annotations

from contextlib import contextmanager

import click

from edgeloop.cli import LazyGroup

# name -> one-line help; the command is `name` in edgeloop/cli/train_<name>.py
SUBCOMMANDS: dict[str, str] = {
    "gesture": "Train a gesture model from accelerometer recordings.",
    "keyword": "Train a keyword spotter for your own words (espeak-ng speech or real recordings).",
    "spotter": "Tune a keyword model's spotter settings on its training speakers, report held-out ones.",
}


class _LazyTrain(LazyGroup):
    lazy = SUBCOMMANDS
    module_prefix = "train_"


@click.group(cls=_LazyTrain)
def train():
    """Train a model for the board from your own recordings, with a model card.

    \b
    Example:
      edgeloop train gesture --data ../shared/data/gestures/cgestures.parquet --out models/gesture/
    """


@contextmanager
def step_progress():
    """A bar per named training step on stderr; yields the progress(what, done, total) callback."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from edgeloop.cli.progress import progress_bar

    with progress_bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn()) as bar:
        tasks = {}

        def progress(what, done, total):
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield progress
