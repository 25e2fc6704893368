"""The errors nova raises, and the exit codes the CLI maps them to.

    NovaError                     root; exit code 1 unless a subclass says otherwise
    ├── ConfigError               nova.yaml or another input file is invalid (exit 2);
    │                             carries a list of Problem(file, line, path, message)
    ├── WorkspaceError            no workspace found, or a path inside it is unusable (exit 2)
    ├── CatalogError              shipped or user catalog data is invalid or an id is unknown
    ├── StoreError                the run store cannot be opened, migrated or written
    ├── MissingDependencyError    an optional extra is not installed; names the pip command
    └── GateFailedError           a quality gate or decision precondition failed (exit 3)

Every message says what is wrong and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EXIT_GATE_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_KNOWN_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "CatalogError",
    "ConfigError",
    "GateFailedError",
    "MissingDependencyError",
    "NovaError",
    "Problem",
    "StoreError",
    "WorkspaceError",
]

EXIT_OK = 0
EXIT_KNOWN_ERROR = 1
EXIT_USAGE = 2
EXIT_GATE_FAILED = 3
EXIT_INTERRUPTED = 130


class NovaError(Exception):
    """Root of every error nova raises on purpose."""

    exit_code: int = EXIT_KNOWN_ERROR


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and what is wrong."""

    file: Path | None
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = str(self.file) if self.file is not None else "<input>"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ConfigError(NovaError):
    """An input file is invalid; ``problems`` lists every problem found, not just the first."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem], summary: str | None = None) -> None:
        self.problems = problems
        n = len(problems)
        self.summary = summary or "invalid input"
        head = summary or f"{n} problem{'s' if n != 1 else ''} found"
        super().__init__(head + "".join(f"\n  {p}" for p in problems))


class WorkspaceError(NovaError):
    """No workspace was found, or a workspace path cannot be used."""

    exit_code = EXIT_USAGE


class CatalogError(NovaError):
    """Catalog data is invalid, or a catalog id is unknown."""


class StoreError(NovaError):
    """The run store cannot be opened, migrated or written."""


class MissingDependencyError(NovaError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the Python module {module!r}, which is not installed: "
            f"run pip install 'nova[{extra}]'"
        )


class GateFailedError(NovaError):
    """A quality gate or a precondition of a decision was not met."""

    exit_code = EXIT_GATE_FAILED
