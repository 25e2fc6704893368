"""The progress bar shared by `nova eval run` and `nova benchmarks`."""

from __future__ import annotations

import io

from rich.console import Console

from nova.cli._render import progress_bar


def test_progress_bar_shows_description_and_counts_on_a_terminal() -> None:
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=120)
    with progress_bar(con, "starting", enabled=True, elapsed=True) as bar:
        assert bar is not None
        bar("evaluating (2 errors)", 3, 10)
    out = buf.getvalue()
    assert "evaluating (2 errors)" in out and "3/10" in out


def test_progress_bar_is_off_when_not_enabled() -> None:
    buf = io.StringIO()
    with progress_bar(Console(file=buf), "starting", enabled=False) as bar:
        assert bar is None
    assert buf.getvalue() == ""
