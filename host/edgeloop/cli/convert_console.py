"""`edgeloop convert`'s terminal side: progress bars and the printed report.

Imported only by cli/convert.py, so neither the conversion library nor the
report prints: this module drives them with callbacks, composes the report
from the conversion, and prints what the renderers return.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from edgeloop.cli.progress import progress_bar
from edgeloop.convert.int8 import Converted
from edgeloop.convert.source import Source, load_source
from edgeloop.report.console import renderable
from edgeloop.report.data import Report, build_report
from edgeloop.report.html_page import to_html
from edgeloop.report.validate import validate


def stage_bar():
    """The bar every stage of convert shows: what, how far, how long."""
    return progress_bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def load_with_progress(model: Path, calib: Path | None, activations: str = "int8") -> Source:
    with stage_bar() as bar:
        task = bar.add_task("calibrating", total=None)

        def progress(done, total):
            bar.update(task, completed=done, total=total)

        return load_source(model, calib, progress, activations)


def make_report(source: Source, converted: Converted, labelled: tuple | None) -> Report:
    """The report; with `labelled` (x, y, class names from load_validation) its accuracy table."""
    report = build_report(converted, source.tflite, str(source.path))
    if labelled is not None:
        x, y, names = labelled
        float_predict = source.float_predictor()
        if float_predict is None:
            report.notes.append(f"float accuracy not shown: {source.path.name} is a .tflite, "
                                "convert the Keras model to compare with the float model")
        with stage_bar() as bar:
            task = bar.add_task("validating", total=len(x))
            report.accuracy = validate(converted, source.tflite, x, y, float_predict=float_predict,
                                       class_names=names,
                                       progress=lambda done, total: bar.update(task, completed=done))
    return report


def show_report(report: Report, html_path: Path | None) -> None:
    Console(soft_wrap=False, width=120).print(renderable(report))
    if html_path is not None:
        from edgeloop.atomic import write_bytes_atomic

        write_bytes_atomic(html_path, to_html(report).encode("utf-8"))
        Console().print(f"report written to {html_path}")
