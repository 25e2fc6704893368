"""Everything between "send this to candidate X" and one provider attempt: the concurrency
limit, RPM/TPM limits, the response cache, and retries with exponential backoff and jitter
that honour Retry-After. The same for every provider."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field

from nova.providers._base import Provider
from nova.providers._cache import ResponseCache, cache_key
from nova.providers._errors import ProviderError, RateLimitError
from nova.providers._types import ChatRequest, ChatResponse

__all__ = ["CandidateClient", "RateLimiter", "RetryPolicy"]


class RetryPolicy(BaseModel):
    """When and how long to wait before trying again."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    max_retries: int = Field(default=2, ge=0)
    """Retries after the first attempt (only for retryable errors: 429, 5xx, connection,
    timeout, cut stream)."""
    base_delay_s: float = Field(default=0.5, ge=0)
    """First backoff; doubles each retry."""
    max_delay_s: float = Field(default=30.0, ge=0)
    """Cap of one backoff (and of an honoured Retry-After)."""
    jitter: float = Field(default=0.25, ge=0, le=1)
    """Backoff is multiplied by a random factor in [1 - jitter, 1 + jitter]."""

    def delay(self, attempt: int, error: ProviderError, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return float(min(error.retry_after, self.max_delay_s))
        backoff = min(self.base_delay_s * 2.0 ** (attempt - 1), self.max_delay_s)
        return float(backoff * rng.uniform(1 - self.jitter, 1 + self.jitter))


class RateLimiter:
    """Token buckets for requests and tokens per minute; ``acquire`` waits until both allow."""

    def __init__(
        self, rpm: int | None, tpm: int | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rpm, self.tpm = rpm, tpm
        self._clock = clock
        self._req = float(rpm or 0)
        self._tok = float(tpm or 0)
        self._t = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        dt = now - self._t
        self._t = now
        if self.rpm:
            self._req = min(float(self.rpm), self._req + dt * self.rpm / 60)
        if self.tpm:
            self._tok = min(float(self.tpm), self._tok + dt * self.tpm / 60)

    async def acquire(self, tokens: int) -> None:
        """Wait for one request and ``tokens`` tokens (capped at the bucket size)."""
        if not self.rpm and not self.tpm:
            return
        async with self._lock:
            need_tok = min(tokens, self.tpm or 0)
            while True:
                self._refill()
                wait = 0.0
                if self.rpm and self._req < 1:
                    wait = max(wait, (1 - self._req) * 60 / self.rpm)
                if self.tpm and self._tok < need_tok:
                    wait = max(wait, (need_tok - self._tok) * 60 / self.tpm)
                if wait <= 0:
                    if self.rpm:
                        self._req -= 1
                    if self.tpm:
                        self._tok -= need_tok
                    return
                await asyncio.sleep(wait)


def _estimate_tokens(req: ChatRequest) -> int:
    # ~4 characters per token for budgeting only; never reported as a measurement.
    chars = sum(len(m.content or "") for m in req.messages)
    return chars // 4 + (req.max_tokens or 256)


class CandidateClient:
    """A provider plus limits, cache and retries. Use one per candidate per run."""

    def __init__(
        self,
        provider: Provider,
        *,
        cache: ResponseCache | None = None,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        s = provider.candidate.provider
        self.provider = provider
        self.cache = cache if s.cache else None
        self.retry = retry or RetryPolicy(max_retries=s.max_retries)
        self._sem = asyncio.Semaphore(s.max_concurrency)
        self._limiter = RateLimiter(s.rpm, s.tpm)
        self._rng = random.Random(seed)
        self._sleep = sleep

    @property
    def candidate_id(self) -> str:
        """Candidate id."""
        return self.provider.candidate.id

    async def start(self) -> None:
        """Start the provider."""
        await self.provider.start()

    async def close(self) -> None:
        """Close the provider."""
        await self.provider.close()

    async def __aenter__(self) -> CandidateClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """Answer ``request``: from the cache, or by the provider with retries.

        Raises the last ``ProviderError`` when every attempt failed; its ``partial_text``
        keeps what a cut stream had delivered.
        """
        key = cache_key(self.provider.candidate, request) if self.cache else None
        if self.cache is not None and key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        t_wait = time.perf_counter_ns()
        async with self._sem:
            await self._limiter.acquire(_estimate_tokens(request))
            queued = time.perf_counter_ns() - t_wait
            attempt = 0
            while True:
                attempt += 1
                try:
                    resp = await self.provider.chat(request)
                    break
                except ProviderError as exc:
                    exc.attempts = attempt  # type: ignore[attr-defined]  # for reports
                    if not exc.retryable or attempt > self.retry.max_retries:
                        raise
                    await self._sleep(self.retry.delay(attempt, exc, self._rng))
        resp = resp.model_copy(
            update={
                "attempts": attempt,
                "timings": resp.timings.model_copy(update={"queued_ns": queued}),
            }
        )
        if self.cache is not None and key is not None:
            self.cache.put(key, resp)
        return resp
