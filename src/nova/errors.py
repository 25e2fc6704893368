"""The errors nova raises, and the exit codes the CLI maps them to.

    NovaError                     root; exit code 1 unless a subclass says otherwise
    ├── ConfigError               nova.yaml or another input file is invalid (exit 2);
    │                             carries a list of Problem(file, line, path, message)
    ├── WorkspaceError            no workspace found, or a path inside it is unusable (exit 2)
    ├── CatalogError              shipped or user catalog data is invalid or an id is unknown
    ├── StoreError                the run store cannot be opened, migrated or written
    ├── MissingDependencyError    an optional extra is not installed; names the pip command
    ├── GateFailedError           a quality gate or decision precondition failed (exit 3)
    ├── UnknownCandidateError     a candidate id is not in nova.yaml (exit 2; also a KeyError)
    ├── SignatureError            a signed review does not verify against the allowed signers
    ├── NotReadyError             an object was used before it was ready (e.g. a server's URL
    │                             before start())
    └── ProviderError             a request to a candidate failed; carries candidate, status,
        │                         request id; ``retryable`` says whether a retry can help
        ├── AuthError             401/403: key missing, wrong or without permission
        ├── ModelNotFoundError    the server does not serve the model
        ├── ContextLengthError    prompt + max_tokens exceed the context window
        ├── BadRequestError       400/422 for another reason
        ├── RateLimitError        429 (retryable; ``retry_after``)
        ├── ServerError           5xx (retryable)
        ├── UnreachableError      no connection (retryable)
        ├── TimeoutError_         connect, first-token or total timeout (retryable; ``phase``)
        └── StreamCutError        the stream ended early (retryable; ``partial_text``)

The ``ProviderError`` subclasses live in ``nova.providers`` (import them from there).

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
    "NotReadyError",
    "NovaError",
    "Problem",
    "ProviderError",
    "SignatureError",
    "StoreError",
    "UnknownCandidateError",
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


class UnknownCandidateError(NovaError, KeyError):
    """A candidate id is not in nova.yaml. Also a ``KeyError``, for code that looks ids up."""

    exit_code = EXIT_USAGE

    def __init__(self, candidate: str, known: list[str]) -> None:
        self.candidate = candidate
        super().__init__(
            f"no candidate {candidate!r} in nova.yaml (known: {', '.join(known) or 'none'}): "
            "check the id, or add the candidate under `candidates:`"
        )

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


class SignatureError(NovaError):
    """A signed review does not verify, or signatures are required and missing."""


class NotReadyError(NovaError):
    """An object was used before it was ready; the message says what to call first."""


class ProviderError(NovaError):
    """A request to a candidate failed. ``retryable`` says whether trying again can help.

    The subclasses (``AuthError``, ``RateLimitError``, …) are in ``nova.providers``.
    """

    retryable = False
    kind = "error"

    def __init__(
        self,
        candidate: str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        partial_text: str | None = None,
    ) -> None:
        self.candidate = candidate
        self.status = status
        self.request_id = request_id
        self.partial_text = partial_text
        where = f"candidate {candidate}"
        if request_id:
            where += f", request {request_id}"
        super().__init__(f"{where}: {message}")
