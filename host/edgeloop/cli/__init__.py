"""The `edgeloop` command line: parsing and error translation only.

Each command lives in its own `cli/<verb>.py` and is imported only when it
runs, so `edgeloop --help` stays fast and a heavy import (TensorFlow) costs
only the commands that need it. Every EdgeloopError becomes one stderr line
and exit 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import click

from edgeloop import __version__
from edgeloop.errors import EdgeloopError

# name -> one-line help shown by `edgeloop --help`; the command is `name` in edgeloop/cli/<name>.py
COMMANDS: dict[str, str] = {
    "boards": "List the board profiles, or show one.",
    "sim": "Run a virtual board (real MicroPython on a pty) until stopped.",
    "devices": "List attached boards and running virtual boards.",
    "info": "Show what a board reports: firmware, .mpy arch, heap, filesystem.",
    "convert": "Convert a Keras, .tflite or scikit-learn model for the board (int8 .elm, trees CSV).",
    "predict": "Run a model on a sensor window, a .wav or a tensor, here or on a board: classes and scores.",
    "bench": "Time a model on a board, layer by layer and whole: where its inference time goes.",
    "deploy": "Push firmware/ (and models) to a board: changed files only, atomic.",
    "demo": "Replay real held-out takes through a (virtual) board running a model; live view, log, accuracy.",
    "shell": "Open the board's Python prompt (REPL) on this terminal.",
    "fs": "List, print, remove and fetch files on the board.",
    "reset": "Restart the board (soft: boot.py and main.py run again; or --hard).",
    "flash": "Write MicroPython/CircuitPython to a board (UF2, esptool, DFU).",
    "monitor": "Stream inferences from a board: live view + SQLite log.",
    "collect": "Store every board's frames from an MQTT broker into one log, each exactly once.",
    "gateway": "Publish the frames of the boards on this host's ports to an MQTT broker (queued on disk while it is down).",
    "fleet": "The fleet's security: CA, per-device broker credentials and ACLs, revocation, database roles.",
    "record": "Record a labelled take of raw sensor data into a dataset.",
    "export": "Export logged windows as a retraining set (npz, csv, parquet).",
    "label": "Review logged windows; set, import and export their labels (CSV, Label Studio).",
    "train": "Train a gesture or keyword model from recordings, with a model card.",
    "bundle": "Pack a model folder into a signed bundle (A/B slots, self-test, rollback).",
    "keys": "Make the Ed25519 key pair that signs model bundles.",
    "retrain": "Retrain on labelled field windows; re-validate against the parent; refuse a worse model.",
    "drift": "Compare logged field windows with the model's training data: PSI, KS, unsure share; a verdict.",
}


class _UserError(click.ClickException):
    """An EdgeloopError on its way out: one line on stderr, exit 1."""

    def __init__(self, error: EdgeloopError):
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file=None):
        click.echo(f"edgeloop: {self.format_message()}", err=True)


class _UsageLine(click.UsageError):
    """A wrong option or argument: one line that says where the help is, not click's three."""

    def __init__(self, error: click.UsageError):
        super().__init__(error.format_message(), error.ctx)
        self.exit_code = error.exit_code

    def show(self, file=None):
        where = self.ctx.command_path if self.ctx else "edgeloop"
        click.echo(f"edgeloop: {self.format_message()} (see '{where} --help')", err=True)


class LazyGroup(click.Group):
    """A group whose commands are imported only when they run: command `name` is the
    function `name` in edgeloop/cli/<module_prefix><name>.py; `lazy` maps names to help."""

    lazy: dict[str, str] = COMMANDS
    module_prefix = ""

    def list_commands(self, ctx):
        return sorted(self.lazy)

    def get_command(self, ctx, name):
        if name not in self.lazy:
            return None
        return getattr(importlib.import_module(f"edgeloop.cli.{self.module_prefix}{name}"), name)

    def format_commands(self, ctx, formatter):
        rows = [(name, self.lazy[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx):
        # Translating here (not only in main) means CliRunner tests see
        # exactly what a user sees.
        try:
            return super().invoke(ctx)
        except EdgeloopError as e:
            raise _UserError(e) from None
        except click.UsageError as e:
            raise _UsageLine(e) from None
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgeloop")
def cli():
    """Take a small ML model from your laptop to a microcontroller and back.

    \b
    Start here, no board needed:
      edgeloop demo                 virtual board + gesture model, end to end
      edgeloop sim --board rp2040   a virtual board on a pseudo-terminal
      edgeloop boards               the boards edgeloop knows
    """


def main(argv=None):
    cli.main(args=argv, prog_name="edgeloop")

