"""The seam between the red-team runner and the guardrails (rails) of ``nova.safety``.

The runner needs only what the rails contract (COORD.md) promises: ``acheck_input``,
``acheck_output``, ``canary`` and ``system_prompt()``. These Protocols state exactly that, so
the runner works with the real rails and with any other implementation (a test's, a plugin's).
``workspace_rails`` loads the workspace's rails with ``load_rails``; a workspace without
``guardrails/rails.yaml`` gets None, and the runner measures "without rails" only, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["RailVerdictLike", "RailsLike", "RailsResultLike", "workspace_rails"]


class RailVerdictLike(Protocol):
    """One rail's verdict (``nova.safety.RailVerdict``)."""

    @property
    def rail(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def fired(self) -> bool: ...
    @property
    def action(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def elapsed_ms(self) -> float: ...


class RailsResultLike(Protocol):
    """What a rails check returns (``nova.safety.RailsResult``)."""

    @property
    def blocked(self) -> bool: ...
    @property
    def messages(self) -> list[dict[str, str]] | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def verdicts(self) -> Sequence[RailVerdictLike]: ...
    @property
    def refusal(self) -> str | None: ...


@runtime_checkable
class RailsLike(Protocol):
    """The rails as the red-team runner uses them (``nova.safety.Rails``)."""

    @property
    def canary(self) -> str | None: ...

    def system_prompt(self) -> str | None:
        """The safety system prompt with the canary planted, or None."""
        ...

    async def acheck_input(self, messages: list[dict[str, str]]) -> RailsResultLike:
        """Input rails (model-backed ones included)."""
        ...

    async def acheck_output(
        self, text: str, input_messages: list[dict[str, str]]
    ) -> RailsResultLike:
        """Output rails."""
        ...


def workspace_rails(root: Path) -> RailsLike | None:
    """The workspace's rails (``load_rails(root)``), or None when the workspace has no
    ``guardrails/rails.yaml``.

    An invalid rails.yaml raises the rails' own ConfigError (exit 2, file:line)."""
    from nova.safety._rails import load_rails

    if not (root / "guardrails" / "rails.yaml").is_file():
        return None
    return load_rails(root)
