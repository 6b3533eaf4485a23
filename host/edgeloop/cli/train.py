"""`edgeloop train`: a group with one sub-command per task, each in its own module.

Sub-commands are imported only when they run (TensorFlow is heavy). To add
one, add a line to SUBCOMMANDS: name -> (module, attribute, one-line help).
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import click

SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "gesture": ("train_gesture", "gesture", "Train a gesture model from accelerometer recordings."),
    "keyword": ("train_keyword", "keyword", "Train a keyword spotter for your own words (espeak-ng speech)."),
}


class _LazyTrain(click.Group):
    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        module, attr, _ = SUBCOMMANDS[name]
        return getattr(importlib.import_module(f"edgeloop.cli.{module}"), attr)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(n, SUBCOMMANDS[n][2]) for n in self.list_commands(ctx)])


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
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        tasks = {}

        def progress(what, done, total):
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield progress
