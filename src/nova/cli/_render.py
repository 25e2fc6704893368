"""Output helpers: rich tables on a terminal, plain aligned text otherwise, JSON on request."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["err_console", "out_console", "print_json", "print_table", "progress_bar"]


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    # Not a terminal: no colour, no wrapping at 80 columns, no box drawing.
    return Console(
        file=stream,
        highlight=False,
        soft_wrap=not tty,
        width=None if tty else 200,
        no_color=not tty,
        force_terminal=False if not tty else None,
    )


def out_console() -> Console:
    """Console on stdout (created per call so tests capturing stdout see the output)."""
    return _console(stderr=False)


def err_console() -> Console:
    """Console on stderr."""
    return _console(stderr=True)


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> None:
    """A table: boxed with colour on a terminal, plain columns when piped."""
    con = out_console()
    tty = con.is_terminal
    table = Table(
        title=title,
        caption=caption,
        box=None,
        show_edge=tty,
        pad_edge=False,
        header_style="bold" if tty else "",
        title_justify="left",
        caption_justify="left",
    )
    if tty:
        from rich import box

        table.box = box.SIMPLE_HEAD
    for c in columns:
        table.add_column(c, overflow="fold")
    for row in rows:
        table.add_row(
            *(v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in row)
        )
    con.print(table)


def print_json(data: Any) -> None:
    """Pretty JSON on stdout (UTF-8, keys in the order given)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


ProgressUpdate = Callable[[str, int, int | None], None]
"""``update(description, completed, total)`` of a ``progress_bar``."""


@contextmanager
def progress_bar(
    console: Console, description: str, *, enabled: bool, elapsed: bool = False
) -> Iterator[ProgressUpdate | None]:
    """A transient progress bar on ``console`` (description, bar, done/total, [elapsed,]
    time left), yielding its ``update``; yields None when not ``enabled`` (not a terminal,
    or JSON output), so the caller reports progress its own way or not at all."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[ProgressColumn] = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        *([TimeElapsedColumn()] if elapsed else []),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(text: str, completed: int, total: int | None) -> None:
            bar.update(task, description=text, completed=completed, total=total)

        yield update
