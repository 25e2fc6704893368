"""Load levels split over processes or machines, merged from the stored per-request samples.

Every request of a level is stored with its full timeline, so the merged metrics are those of
the union of the samples, computed once: exact percentiles, never averages of percentiles.
Each sample's ``perf_counter_ns`` times are shifted onto the wall clock by the offset its process
measured at start (``time_ns() − perf_counter_ns()``); latencies are differences within one
request and do not move; only the level's span (throughput) depends on the clocks agreeing
(one machine: to microseconds; several machines: to their NTP offset).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from nova.config import Slo
from nova.perf._metrics import LevelMetrics, RequestSample, compute_level
from nova.shard import Shard
from nova.store import RequestRecord, RunStore

__all__ = [
    "LevelPlan",
    "active_slices",
    "clock_offset_ns",
    "level_slice",
    "merged_levels",
    "sample_record",
]


@dataclass(frozen=True)
class LevelPlan:
    """One load level of a sweep."""

    label: str
    concurrency: int | None
    rate: float | None


def clock_offset_ns() -> int:
    """Wall clock minus ``perf_counter_ns`` in this process, now."""
    return time.time_ns() - time.perf_counter_ns()


def active_slices(count: int, concurrency: int | None) -> int:
    """Slices of ``count`` that send load in a level: all for a rate, at most ``concurrency``
    for a fixed concurrency (a slice cannot hold less than one request in flight)."""
    return count if concurrency is None else min(count, concurrency)


def level_slice(shard: Shard, concurrency: int | None) -> tuple[Callable[[int], bool], int | None]:
    """Which requests of a level ``shard`` sends, and at what concurrency.

    Fixed concurrency ``c`` over ``N`` slices: ``min(N, c)`` slices are active, request ``i``
    goes to slice ``i mod min(N, c)``, their concurrencies differ by at most one and add up to
    ``c``; an idle slice owns no request. Rates: round robin over all ``N`` (each slice fires
    its own arrivals of the one schedule)."""
    if concurrency is None:
        return shard.owns_index, None
    active = active_slices(shard.count, concurrency)
    if shard.index >= active:
        return (lambda _i: False), 0
    part = Shard(shard.index, active)
    return part.owns_index, part.share(concurrency)


def sample_record(
    cid: str, label: str, i: int, s: RequestSample, *, shard: Shard | None, offset_ns: int
) -> RequestRecord:
    """The stored form of one load request: everything ``compute_level`` needs."""
    return RequestRecord(
        candidate=cid,
        case_id=f"{label}#{i}",
        repeat=0,
        request={
            "load": label,
            "index": i,
            "shard": shard.label if shard else None,
            "clock_offset_ns": offset_ns,
            "t_scheduled_ns": s.t_scheduled_ns,
            "t_end_ns": s.t_end_ns,
        },
        prompt_tokens=s.prompt_tokens,
        completion_tokens=s.output_tokens,
        usage_source=s.usage_source
        if s.usage_source in ("server", "client", "estimate")
        else "none",
        sent_at=dt.datetime.now(dt.UTC),
        t_send_ns=s.t_send_ns,
        t_first_byte_ns=s.t_first_byte_ns,
        t_first_token_ns=s.t_first_token_ns,
        t_last_token_ns=s.t_last_token_ns,
        chunk_times_ns=s.chunk_times_ns or None,
        error_type=s.error,
    )


def _sample(r: RequestRecord) -> RequestSample:
    """The sample of a stored load request, on the wall clock."""
    req = r.request
    off = int(req.get("clock_offset_ns") or 0)

    def at(v: int | None) -> int | None:
        return None if v is None else v + off

    send = at(r.t_send_ns) or 0
    sched = at(req.get("t_scheduled_ns"))
    return RequestSample(
        t_scheduled_ns=sched if sched is not None else send,
        t_send_ns=send,
        t_first_byte_ns=at(r.t_first_byte_ns),
        t_first_token_ns=at(r.t_first_token_ns),
        t_last_token_ns=at(r.t_last_token_ns),
        t_end_ns=at(req.get("t_end_ns")),
        chunk_times_ns=[t + off for t in r.chunk_times_ns or []],
        output_tokens=r.completion_tokens,
        prompt_tokens=r.prompt_tokens,
        usage_source=r.usage_source,
        error=r.error_type,
    )


def merged_levels(
    store: RunStore, run_id: str, plan: list[LevelPlan], candidate: str, slo: Slo | None = None
) -> list[LevelMetrics]:
    """The levels of ``candidate`` in ``plan`` order, each computed once from the union of its
    stored samples (every shard and worker)."""
    by_label: dict[str, list[RequestSample]] = {}
    for r in store.iter_requests(run_id, candidate):
        label = r.request.get("load")
        if isinstance(label, str):
            by_label.setdefault(label, []).append(_sample(r))
    return [
        compute_level(
            by_label[p.label],
            label=p.label,
            concurrency=p.concurrency,
            rate=p.rate,
            slo=slo,
        )
        for p in plan
        if p.label in by_label
    ]
