"""``nova candidates ping``: one short request per candidate, to see who answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nova.config import Candidate
from nova.errors import NovaError
from nova.providers._base import create_provider
from nova.providers._client import CandidateClient, RetryPolicy
from nova.providers._errors import ProviderError
from nova.providers._types import ChatRequest, Message, UsageSource

__all__ = ["PING_PROMPT", "PingResult", "ping_candidates"]

PING_PROMPT = "Antworte mit genau einem Wort: Hallo."


class PingResult(BaseModel):
    """Outcome of one ping."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    ok: bool
    """Whether an answer came back."""
    model_reported: str | None = None
    """Model id the server reported."""
    ttft_ms: float | None = None
    """Time to first token."""
    latency_ms: float | None = None
    """Time to the full answer."""
    prompt_tokens: int | None = None
    """Prompt tokens."""
    completion_tokens: int | None = None
    """Completion tokens."""
    usage_source: UsageSource = "none"
    """Where the token counts came from."""
    text: str | None = None
    """Answer (first 80 characters)."""
    error_kind: str | None = None
    """Error class (auth, unreachable, timeout, …)."""
    error: str | None = None
    """Error message with what to do."""


async def _ping_one(c: Candidate, root: Path | None, timeout_s: float) -> PingResult:
    cand = c.model_copy(
        update={
            "provider": c.provider.model_copy(
                update={"timeout_s": min(c.provider.timeout_s, timeout_s), "cache": False}
            )
        }
    )
    try:
        provider = create_provider(cand, workspace_root=root)
        async with CandidateClient(provider, retry=RetryPolicy(max_retries=0)) as client:
            r = await client.chat(
                ChatRequest(
                    messages=[Message(role="user", content=PING_PROMPT)],
                    max_tokens=16,
                    temperature=0,
                    stream=True,
                )
            )
    except ProviderError as exc:
        return PingResult(candidate=c.id, ok=False, error_kind=exc.kind, error=str(exc))
    except NovaError as exc:
        return PingResult(candidate=c.id, ok=False, error_kind=type(exc).__name__, error=str(exc))
    t = r.timings
    return PingResult(
        candidate=c.id,
        ok=True,
        model_reported=r.model_reported,
        ttft_ms=(t.t_first_token_ns - t.t_send_ns) / 1e6 if t.t_first_token_ns else None,
        latency_ms=((t.t_end_ns or t.t_send_ns) - t.t_send_ns) / 1e6,
        prompt_tokens=r.usage.prompt_tokens,
        completion_tokens=r.usage.completion_tokens,
        usage_source=r.usage.source,
        text=r.text[:80],
    )


async def ping_candidates(
    candidates: list[Candidate], *, workspace_root: Path | None = None, timeout_s: float = 30.0
) -> list[PingResult]:
    """Ping every candidate concurrently; failures are results, not exceptions."""
    return list(
        await asyncio.gather(*(_ping_one(c, workspace_root, timeout_s) for c in candidates))
    )
