"""Progress bars for long commands: shown on a terminal, silent when piped.

The bar comes from rich, which the ``cli`` extra installs; without it, or when
stderr is not a terminal, commands run silently.
"""

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


@contextmanager
def progress(description: str, *, total: int | None, unit: str) -> Iterator[Progress]:
    """Shows a bar with a count and a rate on stderr while the block runs."""
    if not sys.stderr.isatty():
        yield _Silent()
        return
    try:
        from rich import progress as rich_progress
    except ImportError:
        yield _Silent()
        return
    columns = (
        rich_progress.TextColumn("{task.description}"),
        rich_progress.BarColumn(),
        rich_progress.MofNCompleteColumn(),
        rich_progress.TextColumn("{task.fields[rate]}"),
        rich_progress.TimeElapsedColumn(),
    )
    with rich_progress.Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total, rate="")

        class _Bar:
            def advance(self, amount: int = 1) -> None:
                bar.advance(task, amount)
                speed = bar.tasks[task].speed
                if speed:
                    bar.update(task, rate=f"{speed:,.0f} {unit}/s")

        yield _Bar()
