"""Which candidate answers: the requested one, then the fallback, each behind a circuit
breaker. A candidate is left for the next only before its first token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova.catalog import Catalog
from nova.config import Candidate, NovaConfig
from nova.errors import ConfigError, Problem
from nova.providers import (
    ChatDelta,
    ChatRequest,
    Provider,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamCutError,
    TimeoutError_,
    UnreachableError,
    create_provider,
)

__all__ = ["Breaker", "Opened", "Route", "Router", "fallback_reason"]


class Breaker:
    """Closed: requests pass. ``failures`` consecutive failures open it for ``cooldown_s``
    (requests go to the next candidate); after that one trial request passes (half-open): a
    success closes it, a failure opens it again."""

    def __init__(
        self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self.open_until = 0.0
        self._trial = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        if self.failures < self.threshold:
            return "closed"
        return "open" if self._clock() < self.open_until else "half-open"

    def allow(self) -> bool:
        """Whether a request may try this candidate now."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        """The candidate answered."""
        self.failures = 0
        self._trial = False

    def failure(self) -> None:
        """The candidate failed."""
        self.failures += 1
        self._trial = False
        if self.failures >= self.threshold:
            self.open_until = self._clock() + self.cooldown_s


@dataclass
class Route:
    """A served candidate with its provider, breaker and price."""

    candidate: Candidate
    provider: Provider
    breaker: Breaker
    price_per_mtok: tuple[float, float] | None = None
    """(input, output) USD per million tokens, from the dated price sheet (managed only)."""

    @property
    def id(self) -> str:
        """Candidate id."""
        return self.candidate.id

    def cost(self, prompt: int, completion: int) -> float | None:
        """USD for these tokens, when the candidate has a price."""
        if self.price_per_mtok is None:
            return None
        return (prompt * self.price_per_mtok[0] + completion * self.price_per_mtok[1]) / 1e6


@dataclass
class Opened:
    """A stream whose first token has arrived."""

    route: Route
    stream: AsyncIterator[ChatDelta]
    first: list[ChatDelta]
    path: list[dict[str, Any]] = field(default_factory=list)
    """Candidates tried before, with why they were left."""
    upstream_s: float = 0.0
    """Seconds spent waiting for model servers so far."""
    complete: bool = False
    """Whether ``first`` is the whole answer (a plain request: ``stream`` yields nothing)."""


def fallback_reason(exc: ProviderError) -> str | None:
    """Why ``exc`` justifies trying the next candidate; None when it does not (a request
    the model server rejected would be rejected by the next one too)."""
    if isinstance(exc, UnreachableError):
        return "connect_error"
    if isinstance(exc, RateLimitError):
        return "http_429"
    if isinstance(exc, ServerError):
        return "http_5xx"
    if isinstance(exc, TimeoutError_):
        return "first_token_timeout" if exc.phase == "first_token" else f"{exc.phase}_timeout"
    if isinstance(exc, StreamCutError):
        return "stream_cut"
    return None


def _problem(path: str, msg: str) -> ConfigError:
    return ConfigError([Problem(None, None, path, msg)], "nova serve cannot start")


class Router:
    """The served candidates and the order they are tried in."""

    def __init__(
        self,
        config: NovaConfig,
        *,
        workspace_root: Path | None = None,
        catalog: Catalog | None = None,
        on_fallback: Callable[[str, str, str], None] | None = None,
    ) -> None:
        gw = config.gateway
        self.first_token_timeout_s = gw.first_token_timeout_s
        self._on_fallback = on_fallback
        primaries = [c.id for c in config.candidates if c.role == "primary"]
        fallbacks = [c.id for c in config.candidates if c.role == "fallback"]
        self.primary = gw.primary or (primaries[0] if primaries else None)
        if self.primary is None:
            raise _problem(
                "gateway.primary",
                "no candidate to serve: set gateway.primary or give a candidate role: primary",
            )
        self.fallback = gw.fallback or (fallbacks[0] if fallbacks else None)
        served = gw.models or [self.primary, *([self.fallback] if self.fallback else [])]
        self.served = list(dict.fromkeys(served))
        self.routes: dict[str, Route] = {}
        for cid in dict.fromkeys([*self.served, *([self.fallback] if self.fallback else [])]):
            try:
                cand = config.candidate(cid)
            except KeyError:
                raise _problem("gateway", f"unknown candidate {cid!r}") from None
            price = None
            if catalog is not None and cand.catalog and cand.hosting == "managed":
                found = catalog.token_price(cand.catalog, cand.price_sheet)
                if found is not None:
                    price = (found[1].input_per_mtok, found[1].output_per_mtok)
            self.routes[cid] = Route(
                cand,
                create_provider(cand, workspace_root=workspace_root),
                Breaker(gw.breaker_failures, gw.breaker_cooldown_s),
                price,
            )

    async def start(self) -> None:
        """Start every provider (open sessions, start local servers)."""
        await asyncio.gather(*(r.provider.start() for r in self.routes.values()))

    async def close(self) -> None:
        """Close every provider."""
        await asyncio.gather(
            *(r.provider.close() for r in self.routes.values()), return_exceptions=True
        )

    def chain(self, model: str) -> list[Route]:
        """Candidates to try for ``model``, in order."""
        out = [self.routes[model]]
        if self.fallback and self.fallback != model:
            out.append(self.routes[self.fallback])
        return out

    async def open(
        self,
        model: str,
        request: ChatRequest,
        *,
        skip: int = 0,
        path: list[dict[str, Any]] | None = None,
    ) -> Opened:
        """The first candidate of the chain (after the first ``skip``) that delivers a first
        token; ``path`` continues an earlier attempt's record.

        Raises the last ``ProviderError`` when none does, or at once for an error that no
        other candidate would answer differently (4xx of the model server).
        """
        chain = self.chain(model)[skip:]
        if not chain:
            raise AssertionError("no candidate left to try")
        path = path if path is not None else []
        upstream = 0.0
        for i, route in enumerate(chain):
            last = i == len(chain) - 1
            if not last and not route.breaker.allow():
                path.append({"candidate": route.id, "reason": "circuit_open"})
                self._fell_back(route.id, chain[i + 1].id, "circuit_open")
                continue
            t = time.perf_counter()
            try:
                stream, first = await self._first_token(route, request)
            except ProviderError as exc:
                upstream += time.perf_counter() - t
                reason = fallback_reason(exc)
                if reason is None:
                    route.breaker.success()  # it answered (with a refusal): it is reachable
                    raise
                route.breaker.failure()
                path.append({"candidate": route.id, "reason": reason, "error": str(exc)[:300]})
                if last:
                    exc.fallback_path = path  # type: ignore[attr-defined]  # for the audit
                    raise
                self._fell_back(route.id, chain[i + 1].id, reason)
                continue
            upstream += time.perf_counter() - t
            route.breaker.success()  # a first token: reachable (a later cut counts as a failure)
            return Opened(route, stream, first, path, upstream, complete=not request.stream)
        raise AssertionError("unreachable: the last candidate raises or returns")

    def fell_back(self, src: str, dst: str, reason: str) -> None:
        """Count a move from ``src`` to ``dst``."""
        self._fell_back(src, dst, reason)

    def _fell_back(self, src: str, dst: str, reason: str) -> None:
        if self._on_fallback is not None:
            self._on_fallback(src, dst, reason)

    async def _first_token(
        self, route: Route, request: ChatRequest
    ) -> tuple[AsyncIterator[ChatDelta], list[ChatDelta]]:
        if not request.stream:
            # A plain answer has no first token before the whole answer: ask for it plainly
            # (one JSON body, not a stream of chunks: about 0.2 ms less CPU per request),
            # bounded by the candidate's total timeout (provider.timeout_s).
            resp = await route.provider.chat(request)
            return _no_more(), [
                ChatDelta(
                    text=resp.text,
                    tool_calls=[
                        {"index": i, "id": c.id, "type": "function",
                         "function": {"name": c.name, "arguments": c.arguments}}
                        for i, c in enumerate(resp.tool_calls)
                    ] or None,
                    finish_reason=resp.finish_reason or "stop",
                    usage=resp.usage,
                    model=resp.model_reported,
                )
            ]  # fmt: skip
        gen = route.provider.stream(request)
        got: list[ChatDelta] = []
        timeout = self.first_token_timeout_s
        own = route.candidate.provider.first_token_timeout_s
        if own is not None:
            timeout = min(timeout, own)
        try:
            async with asyncio.timeout(timeout):
                async for d in gen:
                    got.append(d)
                    if d.text or d.tool_calls or d.finish_reason:
                        break
        except TimeoutError:
            await gen.aclose()  # type: ignore[attr-defined]  # an async generator
            raise TimeoutError_(
                route.id,
                f"no first token within {timeout:g} s (gateway.first_token_timeout_s)",
                phase="first_token",
            ) from None
        except BaseException:
            await gen.aclose()  # type: ignore[attr-defined]  # an async generator
            raise
        return gen, got


async def _no_more() -> AsyncIterator[ChatDelta]:
    return
    yield  # an async generator that yields nothing
