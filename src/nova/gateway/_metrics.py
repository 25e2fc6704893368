"""The gateway's Prometheus metrics: OpenTelemetry GenAI names plus nova's own.

Names and labels are a contract (alert rules are written against them): all latencies in
seconds, ``candidate`` is the nova candidate id, and requests refused before routing carry
``candidate=""``. With ``--workers N`` the workers share ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` aggregates them (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from nova.observability import GATEWAY_LATENCY_BUCKETS

__all__ = ["GatewayMetrics"]

# Seconds, 1 ms .. 120 s. The alert rules count requests above a KPI target from the bucket
# at the target, so every KPI target (and SLO) must be a bucket edge: one list, owned by the
# rules' side (nova.observability), used for request duration, TTFT and TPOT.
_LATENCY = GATEWAY_LATENCY_BUCKETS
_OVERHEAD = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144)


class Finished(NamedTuple):
    """The labelled children one finished chat request updates (see ``GatewayMetrics.finished``)."""

    requests: Any
    """``nova_gateway_requests_total{candidate, code}``."""
    duration: Any
    """``gen_ai_server_request_duration_seconds{candidate, error_type}`` (None without one)."""
    ttft: Any
    """``gen_ai_server_time_to_first_token_seconds{candidate}`` (None without a candidate)."""
    tokens_in: Any
    """``gen_ai_client_token_usage{candidate, gen_ai_token_type="input"}`` (None without one)."""
    tokens_out: Any
    """``gen_ai_client_token_usage{candidate, gen_ai_token_type="output"}`` (None without one)."""
    cost: Any
    """``nova_gateway_cost_usd_total{candidate}`` (None without a candidate); its series
    appears with the first cost, so an unpriced candidate has none (not a constant 0)."""


class _FirstInc:
    """A counter child made on its first ``inc``: a series that is 0 forever (a candidate
    without a price) would read as "free" on a cost dashboard."""

    __slots__ = ("_child", "_counter", "_labels")

    def __init__(self, counter: Counter, *labels: str) -> None:
        self._counter = counter
        self._labels = labels
        self._child: Any = None

    def inc(self, amount: float) -> None:
        if self._child is None:
            self._child = self._counter.labels(*self._labels)
        self._child.inc(amount)


class GatewayMetrics:
    """One registry per gateway app (tests run several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.request_duration = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Time from the request arriving to the last byte of the answer.",
            ["candidate", "error_type"],
            buckets=_LATENCY,
            registry=r,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from the request arriving to the first token sent to the client.",
            ["candidate"],
            buckets=_LATENCY,
            registry=r,
        )
        self.tpot = Histogram(
            "gen_ai_server_time_per_output_token_seconds",
            "Time per output token after the first.",
            ["candidate"],
            buckets=_LATENCY,
            registry=r,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per request (gen_ai_token_type input or output).",
            ["candidate", "gen_ai_token_type"],
            buckets=_TOKENS,
            registry=r,
        )
        self.requests = Counter(
            "nova_gateway_requests_total",
            "Chat requests by candidate and HTTP status.",
            ["candidate", "code"],
            registry=r,
        )
        self.overhead = Histogram(
            "nova_gateway_overhead_seconds",
            "Time the gateway itself spent on a request (total minus waiting for the model).",
            buckets=_OVERHEAD,
            registry=r,
        )
        self.fallbacks = Counter(
            "nova_gateway_fallbacks_total",
            "Requests moved from one candidate to another before the first token.",
            ["from_candidate", "to_candidate", "reason"],
            registry=r,
        )
        self.rail_blocks = Counter(
            "nova_gateway_rail_blocks_total",
            "Requests or answers blocked by a safety rail.",
            ["rail", "stage"],
            registry=r,
        )
        self.budget_rejections = Counter(
            "nova_gateway_budget_rejections_total",
            "Requests refused by a key's limits (rpm, tpm) or token budget.",
            ["kind"],
            registry=r,
        )
        self.stream_cuts = Counter(
            "nova_gateway_stream_cuts_total",
            "Streams that failed after tokens were sent (ended with an error event).",
            ["candidate"],
            registry=r,
        )
        self.cost = Counter(
            "nova_gateway_cost_usd_total",
            "Cost of answered requests in USD, from the candidate's dated price sheet.",
            ["candidate"],
            registry=r,
        )

        self._finished: dict[tuple[str, str, str], Finished] = {}

    def finished(self, candidate: str, code: str, error_type: str) -> Finished:
        """The children a request with these labels updates, looked up once per label set
        (``.labels()`` validates, builds a key and takes a lock on every call: the six calls
        per request were 1.8 % of the gateway's main-thread CPU, cProfile with a CPU-time
        clock, 500 req/s). The same children, so the same series, as calling ``.labels()``."""
        key = (candidate, code, error_type)
        f = self._finished.get(key)
        if f is None:
            c = candidate
            f = self._finished[key] = Finished(
                self.requests.labels(c, code),
                self.request_duration.labels(c, error_type) if c else None,
                self.ttft.labels(c) if c else None,
                self.token_usage.labels(c, "input") if c else None,
                self.token_usage.labels(c, "output") if c else None,
                _FirstInc(self.cost, c) if c else None,
            )
        return f

    def render(self) -> bytes:
        """The text exposition of every metric (all workers' in multiprocess mode)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            agg = CollectorRegistry()
            MultiProcessCollector(agg)  # type: ignore[no-untyped-call]  # untyped upstream
            return generate_latest(agg)
        return generate_latest(self.registry)
