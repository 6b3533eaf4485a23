"""The one way a command shows progress: a transient rich bar on stderr, on a terminal only.

Off a terminal (a pipe, a log file, CI) rich still ends a transient bar with
a newline, which was the blank line before error messages; nobody watches a
bar there, so it is disabled and stderr carries nothing but the messages.
"""

from __future__ import annotations


def progress_bar(*columns):
    """A rich Progress with these columns, on stderr, shown only when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)  # stdout stays the summary alone, for scripts
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)
