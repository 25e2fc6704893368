"""Typed records the run store reads and writes."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GradeRecord", "RequestRecord", "RunRecord", "RunStatus", "UsageSource"]

RunStatus = Literal["running", "completed", "failed", "interrupted"]
UsageSource = Literal["server", "client", "estimate", "none"]


class RunRecord(BaseModel):
    """One run: a quality eval, a benchmark, a red-team pass, or a parent of several."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Run id, sortable by start time, e.g. ``20261127-032100-ab12cd``."""
    parent_id: str | None = None
    """Parent run (a ``benchmarks`` run links its child runs)."""
    kind: str
    """``quality``, ``performance``, ``redteam``, ``benchmarks`` …"""
    profile: str | None = None
    """Profile of nova.yaml the run used."""
    status: RunStatus
    """``running`` until finished; a run left ``running`` after a crash is resumable."""
    config_hash: str | None = None
    """Hash of the resolved nova.yaml (secrets masked)."""
    nova_version: str
    """nova version that made the run."""
    workspace_rev: str | None = None
    """Git revision of the workspace, ``+dirty`` if it had changes."""
    schema_version: int
    """Version of the stored result format."""
    started_at: dt.datetime
    """Start, UTC."""
    ended_at: dt.datetime | None = None
    """End, UTC."""
    meta: dict[str, Any] = Field(default_factory=dict)
    """Dataset hashes, price-sheet dates, candidates and other provenance."""


class RequestRecord(BaseModel):
    """One request to one candidate and what came back (or the error)."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    case_id: str | None = None
    """Dataset case id (None for synthetic load)."""
    repeat: int = 0
    """Sample index when a case is sampled several times."""
    request: dict[str, Any]
    """The request body as sent (never headers: they hold keys)."""
    response: dict[str, Any] | None = None
    """The response body, or the assembled stream."""
    text: str | None = None
    """Answer text."""
    finish_reason: str | None = None
    """Finish reason the server reported."""
    model_reported: str | None = None
    """Model id as the server reported it."""
    prompt_tokens: int | None = None
    """Prompt tokens."""
    completion_tokens: int | None = None
    """Completion tokens."""
    usage_source: UsageSource = "none"
    """Where token counts came from: the server's usage field or a client tokenizer."""
    sent_at: dt.datetime | None = None
    """Wall-clock send time, UTC."""
    t_send_ns: int | None = None
    """perf_counter_ns at send."""
    t_first_byte_ns: int | None = None
    """perf_counter_ns at the first response byte."""
    t_first_token_ns: int | None = None
    """perf_counter_ns at the first chunk with content."""
    t_last_token_ns: int | None = None
    """perf_counter_ns at the last content chunk."""
    chunk_times_ns: list[int] | None = None
    """perf_counter_ns of each content chunk (streaming)."""
    error_type: str | None = None
    """Error class when the request failed (timeout, http_429, connection …)."""
    error_message: str | None = None
    """Error text."""


class GradeRecord(BaseModel):
    """One grade of one answer (or a pairwise verdict, grader ``pairwise:<baseline>``)."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    case_id: str
    """Dataset case id."""
    repeat: int = 0
    """Sample index."""
    grader: str
    """Grader name."""
    passed: bool | None
    """True/False, None when undecided."""
    score: float | None = None
    """Score (judge 1-5; pairwise outcome 1/0.5/0)."""
    detail: str = ""
    """Why."""
