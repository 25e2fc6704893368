"""The load generator: fixed concurrency, constant rate or Poisson arrivals, and sweeps.

Requests go straight to the provider (no retries, no cache, no per-candidate limit: the load
pattern is the limit). A failure is a sample with its error kind, never a crash of the run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from nova.perf._metrics import RequestSample
from nova.providers import ChatRequest, Message, Provider, ProviderError

__all__ = ["run_level", "synthetic_prompts"]

_WORDS = (
    "Guten",
    "Tag",
    "ich",
    "habe",
    "eine",
    "Frage",
    "zu",
    "meiner",
    "Rechnung",
    "vom",
    "letzten",
    "Monat",
    "und",
    "möchte",
    "wissen",
    "warum",
    "der",
    "Abschlag",
    "gestiegen",
    "ist",
    "obwohl",
    "mein",
    "Verbrauch",
    "gleich",
    "geblieben",
    "ist",
    "bitte",
    "erklären",
    "Sie",
    "mir",
    "die",
    "Positionen",
)


def synthetic_prompts(n: int, input_tokens: int, seed: int = 0) -> list[str]:
    """``n`` distinct prompts of ``input_tokens`` words each (a word is roughly one token;
    the server's usage field reports the true count)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [f"[{i}]"] + [rng.choice(_WORDS) for _ in range(max(input_tokens - 1, 0))]
        out.append(" ".join(words))
    return out


def _request(prompt: str, output_tokens: int, system: str | None) -> ChatRequest:
    msgs = ([Message(role="system", content=system)] if system else []) + [
        Message(role="user", content=prompt)
    ]
    return ChatRequest(
        messages=msgs, max_tokens=output_tokens, temperature=0, stream=True, ignore_eos=True
    )


async def _one(provider: Provider, req: ChatRequest, t_sched: int) -> RequestSample:
    t_call = time.perf_counter_ns()
    try:
        r = await provider.chat(req)
    except ProviderError as exc:
        return RequestSample(
            t_scheduled_ns=t_sched,
            t_send_ns=t_call,
            t_end_ns=time.perf_counter_ns(),
            error=exc.kind,
        )
    t = r.timings
    return RequestSample(
        t_scheduled_ns=t_sched,
        t_send_ns=t.t_send_ns,
        t_first_byte_ns=t.t_first_byte_ns,
        t_first_token_ns=t.t_first_token_ns,
        t_last_token_ns=t.t_last_token_ns,
        t_end_ns=t.t_end_ns,
        chunk_times_ns=t.chunk_times_ns,
        output_tokens=r.usage.completion_tokens,
        prompt_tokens=r.usage.prompt_tokens,
        usage_source=r.usage.source,
    )


async def run_level(
    provider: Provider,
    prompts: Sequence[str],
    *,
    arrival: str,
    concurrency: int | None = None,
    rate: float | None = None,
    requests: int,
    warmup: int = 0,
    duration_s: float | None = None,
    output_tokens: int = 128,
    system: str | None = None,
    seed: int = 0,
    max_in_flight: int = 1024,
    on_done: Callable[[int, RequestSample], Awaitable[None] | None] | None = None,
    owns: Callable[[int], bool] | None = None,
    start_ns: int | None = None,
) -> list[tuple[int, RequestSample]]:
    """Send ``warmup + requests`` requests with the arrival pattern; return (index, sample)
    of the measured ones (index ≥ warmup), in completion order.

    ``duration_s`` stops sending new requests after that many seconds (requests in flight
    finish). Constant and Poisson arrivals cap in-flight requests at ``max_in_flight``; time
    waiting for that cap shows up as queue time.

    One slice of a level (a shard or a worker process): ``owns(i)`` picks the request indexes
    this process sends (give it its share of ``concurrency``; a rate stays the level's total:
    every slice computes the whole arrival schedule and fires its own arrivals, so the union
    of the slices is exactly the schedule of one process). ``start_ns`` (``perf_counter_ns``)
    is the common start time of the slices; the level waits for it.
    """
    total = warmup + requests
    results: list[tuple[int, RequestSample]] = []
    if start_ns is not None:
        delay = (start_ns - time.perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
    # Slices share one schedule: counted from the common start, not from when each woke up.
    t0 = start_ns if start_ns is not None else time.perf_counter_ns()
    stop_at = t0 + int(duration_s * 1e9) if duration_s else None

    async def record(i: int, s: RequestSample) -> None:
        if i >= warmup:
            results.append((i, s))
        if on_done is not None:
            maybe = on_done(i, s)
            if maybe is not None:
                await maybe

    if arrival == "concurrency":
        if not concurrency or concurrency < 1:
            raise ValueError("fixed-concurrency load needs concurrency >= 1")
        counter = iter([i for i in range(total) if owns is None or owns(i)])

        async def worker() -> None:
            for i in counter:
                if stop_at is not None and time.perf_counter_ns() >= stop_at and i >= warmup:
                    return
                req = _request(prompts[i % len(prompts)], output_tokens, system)
                await record(i, await _one(provider, req, time.perf_counter_ns()))

        await asyncio.gather(*(worker() for _ in range(min(concurrency, total))))
        return results

    if not rate or rate <= 0:
        raise ValueError(f"{arrival} arrivals need a rate > 0 (requests per second)")
    rng = random.Random(seed)
    sem = asyncio.Semaphore(max_in_flight)
    tasks: list[asyncio.Task[None]] = []
    offset = 0.0

    async def fire(i: int, t_sched: int) -> None:
        async with sem:
            req = _request(prompts[i % len(prompts)], output_tokens, system)
            await record(i, await _one(provider, req, t_sched))

    for i in range(total):
        t_sched = t0 + int(offset * 1e9)
        if stop_at is not None and t_sched >= stop_at and i >= warmup:
            break
        gap = rng.expovariate(rate) if arrival == "poisson" else 1.0 / rate
        if owns is not None and not owns(i):  # another slice's arrival
            offset += gap
            continue
        delay = (t_sched - time.perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i, t_sched)))
        offset += gap
    await asyncio.gather(*tasks)
    return results
