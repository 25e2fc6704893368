"""The workspace's safety rails (``nova.safety``), reduced to what the gateway needs.

A workspace without ``guardrails/rails.yaml`` is served with rails "not active": ``/readyz``
and the log say so, and nothing claims a control that is not there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RailsCheck", "WorkspaceRails", "load_workspace_rails"]

log = logging.getLogger("nova.gateway")


@dataclass(slots=True)
class RailsCheck:
    """The outcome of one rails check, reduced to what the gateway needs."""

    blocked: bool
    """Whether a rail blocked."""
    refusal: str | None
    """The sentence to answer when blocked."""
    messages: list[dict[str, str]] | None
    """Input messages after redaction (input stage)."""
    text: str | None
    """Answer after redaction (output stage)."""
    verdicts: list[dict[str, Any]]
    """Every rail's verdict (rail, stage, fired, action, detail, elapsed_ms)."""

    @property
    def blocking_rails(self) -> list[str]:
        """Names of the rails that blocked."""
        return [v["rail"] for v in self.verdicts if v.get("action") == "block"]


def _check(result: Any) -> RailsCheck:
    verdicts = [
        {
            "rail": str(v.rail),
            "stage": str(v.stage),
            "fired": bool(v.fired),
            "action": str(v.action),
            "detail": str(v.detail),
            "elapsed_ms": float(v.elapsed_ms),
        }
        for v in result.verdicts
    ]
    return RailsCheck(
        blocked=bool(result.blocked),
        refusal=result.refusal,
        messages=getattr(result, "messages", None),
        text=getattr(result, "text", None),
        verdicts=verdicts,
    )


class WorkspaceRails:
    """Input and output rails of a workspace, or none (``active`` False, ``status`` says why)."""

    def __init__(self, rails: Any | None, status: str) -> None:
        self._rails = rails
        self.status = status
        """``active``, or why not."""

    @property
    def active(self) -> bool:
        """Whether rails check requests and answers."""
        return self._rails is not None

    def system_prompt(self) -> str | None:
        """The workspace safety system prompt (with its canary), if any."""
        if self._rails is None:
            return None
        prompt = self._rails.system_prompt()
        return str(prompt) if prompt else None

    async def check_input(self, messages: list[dict[str, str]]) -> RailsCheck | None:
        """Input rails; None when rails are not active."""
        if self._rails is None:
            return None
        return _check(await self._rails.acheck_input(messages))

    async def check_output(self, text: str, messages: list[dict[str, str]]) -> RailsCheck | None:
        """Output rails; None when rails are not active."""
        if self._rails is None:
            return None
        return _check(await self._rails.acheck_output(text, messages))


def load_workspace_rails(workspace_root: Path | None) -> WorkspaceRails:
    """The rails of ``guardrails/rails.yaml``; a ConfigError of an invalid rails file
    propagates (``nova serve`` refuses to start on it)."""
    if workspace_root is None:
        return WorkspaceRails(None, "not active: no workspace")
    if not (workspace_root / "guardrails" / "rails.yaml").is_file():
        status = "not active: no guardrails/rails.yaml in the workspace (`nova init` writes one)"
        log.warning("safety rails %s", status)
        return WorkspaceRails(None, status)
    from nova.safety import load_rails  # lazily: `nova serve` without rails never loads them

    return WorkspaceRails(load_rails(workspace_root), "active")
