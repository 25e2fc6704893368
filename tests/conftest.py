"""Shared fixtures: a fresh workspace in tmp_path, and a clean environment for nova."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nova._secrets import clear_secrets
from nova.cli import main
from nova.config import init_workspace


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No NOVA_ or provider settings leak in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("NOVA_", "AZURE_OPENAI_", "SOPHIA_")):
            monkeypatch.delenv(name, raising=False)
    clear_secrets()
    yield
    clear_secrets()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A freshly initialised Sophia workspace."""
    root = tmp_path / "ws"
    init_workspace(root)
    return root


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``nova ARGS`` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
