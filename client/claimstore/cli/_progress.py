"""Progress bars for long commands: shown on a terminal, silent when piped.

The bar comes from rich, which the ``cli`` extra installs, and is drawn on
stderr, so that ``claimstore export > claims.jsonl`` shows it while the claims
go to the file. Without rich, or when stderr is not a terminal, commands run
silently.
"""

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Progress(Protocol):
    """Something that counts work done."""

    def advance(self, amount: int = 1) -> None:
        """Counts ``amount`` more items done."""


class _Silent:
    def advance(self, amount: int = 1) -> None:
        pass


def drawn(shown: bool = True) -> bool:
    """Whether :func:`progress` draws a bar: when ``shown``, on a terminal, with rich."""
    return shown and sys.stderr.isatty() and importlib.util.find_spec("rich") is not None


@contextmanager
def progress(
    description: str, *, total: int | None, unit: str, shown: bool = True
) -> Iterator[Progress]:
    """Shows a bar with a count and a rate on stderr while the block runs, when
    :func:`drawn`."""
    if not drawn(shown):
        yield _Silent()
        return
    from rich import console as rich_console
    from rich import progress as rich_progress
    from rich import text as rich_text

    class _Rate(rich_progress.ProgressColumn):
        """Items a second, worked out when the bar is drawn rather than at every item."""

        def render(self, task: rich_progress.Task) -> rich_text.Text:
            speed = task.speed
            return rich_text.Text(f"{speed:,.0f} {unit}/s" if speed else "")

    columns = (
        rich_progress.TextColumn("{task.description}"),
        rich_progress.BarColumn(),
        rich_progress.MofNCompleteColumn(),
        _Rate(),
        rich_progress.TimeElapsedColumn(),
    )
    console = rich_console.Console(stderr=True)
    with rich_progress.Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        class _Bar:
            def advance(self, amount: int = 1) -> None:
                bar.advance(task, amount)

        yield _Bar()
