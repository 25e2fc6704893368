"""Latency and throughput metrics with the definitions of vLLM's ``bench serve``.

All times come from ``time.perf_counter_ns`` on the client; the send time is taken after any
client-side wait (concurrency slot, arrival schedule), and that wait is reported separately as
queue time.

- TTFT: first chunk with non-empty content (or reasoning) minus send. TTFB (first response
  byte) is reported too, to reconcile with servers that send a role-only chunk early.
- E2EL: last content-bearing chunk minus send.
- TPOT per request: (E2EL − TTFT) / (output tokens − 1), for requests with ≥ 2 output tokens.
- ITL: every gap between consecutive content chunks, pooled over requests; tokens per chunk =
  output tokens / content chunks.
- Output tokens: the server's usage field (``usage_source`` says so); else content chunks
  (an estimate, tagged).
- Throughput: output tokens/s and requests/s of successful requests over the span from the
  first send to the last completion. Goodput: successful requests meeting every given SLO, per
  second over the same span; SLO attainment = those requests / all requests (failures never
  meet an SLO).
- Percentiles: linear interpolation between order statistics (numpy's default). Failed and
  incomplete (cut) requests are counted separately and excluded from latency statistics,
  except ``p99_with_failures``, which counts each failure as infinitely slow.
- Start skew (shards of one run, ``--shard``): latest minus earliest start of a level's
  shards, each measured by the shard's own wall clock against the common start stored in the
  run; clocks are assumed NTP-synchronised (their offset between machines is not included).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from nova.config import Slo

__all__ = [
    "DEFINITIONS",
    "LevelMetrics",
    "RequestSample",
    "Summary",
    "compute_level",
    "percentile",
    "summarize",
]

DEFINITIONS = __doc__ or ""


class RequestSample(BaseModel):
    """One request's timeline (nanoseconds, same clock) or its failure."""

    model_config = ConfigDict(extra="forbid")

    t_scheduled_ns: int
    """When the request was due to be sent (arrival time or when a worker took it)."""
    t_send_ns: int
    """Send time (after any client-side wait)."""
    t_first_byte_ns: int | None = None
    """First response byte."""
    t_first_token_ns: int | None = None
    """First content-bearing chunk."""
    t_last_token_ns: int | None = None
    """Last content-bearing chunk."""
    t_end_ns: int | None = None
    """Response fully read (or the failure noticed)."""
    chunk_times_ns: list[int] = Field(default_factory=list)
    """Arrival of every content chunk."""
    output_tokens: int | None = None
    """Output tokens."""
    prompt_tokens: int | None = None
    """Prompt tokens."""
    usage_source: str = "none"
    """Where the token counts came from."""
    error: str | None = None
    """Error kind when the request failed (``stream_cut`` = incomplete)."""


def percentile(values: Sequence[float], q: float) -> float:
    """q-th percentile (0..100) by linear interpolation between order statistics."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    if pos == lo or s[hi] == s[lo]:
        return s[lo]
    if math.isinf(s[hi]):  # between a finite value and a failure: infinitely slow
        return math.inf
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Summary(BaseModel):
    """Distribution of one metric in milliseconds."""

    model_config = ConfigDict(extra="forbid")

    n: int
    """Values."""
    mean: float
    """Mean."""
    median: float
    """Median (= p50)."""
    std: float
    """Population standard deviation."""
    p50: float
    """50th percentile."""
    p90: float
    """90th percentile."""
    p95: float
    """95th percentile."""
    p99: float
    """99th percentile."""


def summarize(values: Sequence[float]) -> Summary | None:
    """The summary of ``values`` (None when empty)."""
    if not values:
        return None
    return Summary(
        n=len(values),
        mean=statistics.fmean(values),
        median=percentile(values, 50),
        std=statistics.pstdev(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
    )


class LevelMetrics(BaseModel):
    """Metrics of one load level (one concurrency or one request rate)."""

    # p99 with failures may be infinite: JSON keeps it as "Infinity", not null.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")

    label: str
    """``concurrency 16`` or ``poisson 5.0 req/s``."""
    concurrency: int | None = None
    """Fixed concurrency, when that was the load pattern."""
    rate: float | None = None
    """Request rate, for constant/Poisson arrivals."""
    requests: int
    """Requests measured (after warm-up)."""
    successful: int
    """Requests that completed."""
    failed: int
    """Requests that failed before or without a complete answer (excluding cut streams)."""
    incomplete: int
    """Streams cut in the middle."""
    errors: dict[str, int]
    """Failures by kind."""
    duration_s: float
    """First send to last completion, seconds."""
    output_tokens: int
    """Output tokens of successful requests."""
    usage_sources: dict[str, int]
    """Where token counts came from."""
    ttft_ms: Summary | None
    """Time to first token."""
    ttfb_ms: Summary | None
    """Time to first byte."""
    tpot_ms: Summary | None
    """Time per output token after the first."""
    itl_ms: Summary | None
    """Inter-token latency (gaps between content chunks, pooled)."""
    e2el_ms: Summary | None
    """End-to-end latency."""
    queue_ms: Summary | None
    """Client-side wait before sending."""
    tokens_per_chunk: float | None
    """Output tokens per content chunk."""
    ttft_p99_with_failures_ms: float | None
    """p99 of TTFT counting each failure as infinitely slow (inf if >1% failed)."""
    e2el_p99_with_failures_ms: float | None
    """p99 of E2EL counting failures as infinitely slow."""
    request_throughput: float
    """Successful requests per second."""
    output_throughput: float
    """Output tokens per second."""
    goodput: float | None
    """Requests per second meeting every SLO (None without SLOs)."""
    slo_attainment: float | None
    """Share of all requests meeting every SLO."""
    start_skew_ms: float | None = None
    """Shards of one run (``--shard``): latest minus earliest start of the level's shards
    against their common start, ms (``nova.shard.SKEW_DEFINITION``); None for one process."""


def _ms(ns: float) -> float:
    return ns / 1e6


def _p99_with_failures(values: list[float], failures: int) -> float | None:
    if not values and not failures:
        return None
    return percentile([*values, *([math.inf] * failures)], 99)


def compute_level(
    samples: Sequence[RequestSample],
    *,
    label: str,
    slo: Slo | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
) -> LevelMetrics:
    """Metrics of one level from its request samples (warm-up already removed)."""
    ok = [s for s in samples if s.error is None and s.t_first_token_ns is not None]
    failed = [s for s in samples if s.error is not None and s.error != "stream_cut"]
    cut = [s for s in samples if s.error == "stream_cut"]
    no_tokens = [s for s in samples if s.error is None and s.t_first_token_ns is None]
    errors: dict[str, int] = {}
    for s in [*failed, *cut]:
        errors[s.error or "?"] = errors.get(s.error or "?", 0) + 1
    if no_tokens:
        errors["empty_answer"] = len(no_tokens)
    ttft, ttfb, e2el, tpot, itl, queue = [], [], [], [], [], []
    tokens = chunks = 0
    sources: dict[str, int] = {}
    good = 0
    for s in ok:
        assert s.t_first_token_ns is not None
        last = s.t_last_token_ns or s.t_first_token_ns
        t = _ms(s.t_first_token_ns - s.t_send_ns)
        e = _ms(last - s.t_send_ns)
        ttft.append(t)
        e2el.append(e)
        if s.t_first_byte_ns is not None:
            ttfb.append(_ms(s.t_first_byte_ns - s.t_send_ns))
        queue.append(_ms(s.t_send_ns - s.t_scheduled_ns))
        n_out = s.output_tokens if s.output_tokens is not None else len(s.chunk_times_ns)
        tokens += n_out
        chunks += len(s.chunk_times_ns)
        sources[s.usage_source] = sources.get(s.usage_source, 0) + 1
        per_tok = (e - t) / (n_out - 1) if n_out > 1 else None
        if per_tok is not None:
            tpot.append(per_tok)
        itl += [_ms(b - a) for a, b in zip(s.chunk_times_ns, s.chunk_times_ns[1:], strict=False)]
        if slo is not None and _meets(slo, t, per_tok, e):
            good += 1
    all_s = list(samples)
    start = min((s.t_send_ns for s in all_s), default=0)
    end = max((s.t_end_ns or s.t_last_token_ns or s.t_send_ns for s in all_s), default=0)
    span = max(end - start, 1) / 1e9
    has_slo = slo is not None and any(
        v is not None for v in (slo.ttft_ms, slo.tpot_ms, slo.e2el_ms)
    )
    n_fail = len(failed) + len(cut) + len(no_tokens)
    return LevelMetrics(
        label=label,
        concurrency=concurrency,
        rate=rate,
        requests=len(samples),
        successful=len(ok),
        failed=len(failed) + len(no_tokens),
        incomplete=len(cut),
        errors=errors,
        duration_s=span,
        output_tokens=tokens,
        usage_sources=sources,
        ttft_ms=summarize(ttft),
        ttfb_ms=summarize(ttfb),
        tpot_ms=summarize(tpot),
        itl_ms=summarize(itl),
        e2el_ms=summarize(e2el),
        queue_ms=summarize(queue),
        tokens_per_chunk=tokens / chunks if chunks else None,
        ttft_p99_with_failures_ms=_p99_with_failures(ttft, n_fail),
        e2el_p99_with_failures_ms=_p99_with_failures(e2el, n_fail),
        request_throughput=len(ok) / span,
        output_throughput=tokens / span,
        goodput=good / span if has_slo else None,
        slo_attainment=(good / len(samples) if samples else 0.0) if has_slo else None,
    )


def _meets(slo: Slo, ttft: float, tpot: float | None, e2el: float) -> bool:
    if slo.ttft_ms is not None and ttft > slo.ttft_ms:
        return False
    if slo.tpot_ms is not None and tpot is not None and tpot > slo.tpot_ms:
        return False
    return not (slo.e2el_ms is not None and e2el > slo.e2el_ms)
