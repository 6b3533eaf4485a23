"""Running `edgeloop` in-process and reading its result the way a user would."""

from __future__ import annotations

from click.testing import CliRunner

from edgeloop.cli import cli


def invoke(*args):
    """The CLI's result; an exception that is not an exit (a bug) is raised, with its traceback."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def one_line(result) -> str:
    """The refusal's one line (`edgeloop: ...`), after checking it is one line and a failure."""
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("edgeloop: "), lines[0]
    return lines[0]
