"""The gateway's Prometheus metrics: the one place the rule generator takes their names from.

The names and labels are the contract of COORD.md between the gateway and monitoring; the
gateway must declare its latency histograms with ``GATEWAY_LATENCY_BUCKETS`` so that every
KPI target is a bucket edge (a burn-rate rule counts the requests above the target exactly).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["GATEWAY_LATENCY_BUCKETS", "GATEWAY_METRICS", "GatewayMetric", "le_matcher"]


class GatewayMetric(BaseModel):
    """One metric the gateway exports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["counter", "histogram", "gauge"]
    """Prometheus metric type."""
    labels: tuple[str, ...]
    """Label names (besides ``le`` of histogram buckets)."""


GATEWAY_METRICS: dict[str, GatewayMetric] = {
    "gen_ai_server_request_duration_seconds": GatewayMetric(
        kind="histogram", labels=("candidate", "error_type")
    ),
    "gen_ai_server_time_to_first_token_seconds": GatewayMetric(
        kind="histogram", labels=("candidate",)
    ),
    "gen_ai_server_time_per_output_token_seconds": GatewayMetric(
        kind="histogram", labels=("candidate",)
    ),
    "gen_ai_client_token_usage": GatewayMetric(
        kind="histogram", labels=("candidate", "gen_ai_token_type")
    ),
    "nova_gateway_requests_total": GatewayMetric(kind="counter", labels=("candidate", "code")),
    "nova_gateway_overhead_seconds": GatewayMetric(kind="histogram", labels=()),
    "nova_gateway_fallbacks_total": GatewayMetric(
        kind="counter", labels=("from_candidate", "to_candidate", "reason")
    ),
    "nova_gateway_rail_blocks_total": GatewayMetric(kind="counter", labels=("rail", "stage")),
    "nova_gateway_budget_rejections_total": GatewayMetric(kind="counter", labels=("kind",)),
    "nova_gateway_stream_cuts_total": GatewayMetric(kind="counter", labels=("candidate",)),
    "nova_gateway_cost_usd_total": GatewayMetric(kind="counter", labels=("candidate",)),
}
"""Gateway metric name -> type and labels (COORD.md); latency in seconds."""

GATEWAY_LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.04, 0.05, 0.08, 0.1, 0.15, 0.25, 0.3, 0.5, 0.6,
    0.75, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5, 10.0, 12.0, 15.0, 20.0, 30.0, 60.0, 120.0,
)  # fmt: skip
"""Bucket edges (seconds) for the gateway's three latency histograms (request duration, TTFT,
TPOT). They contain the shipped KPI targets (TPOT 80 ms, TTFT 1.5 s, E2E 12 s), the demo SLOs
(2 s, 20 s) and the gateway's earlier edges (1 ms .. 60 s); a KPI target
that is not an edge is reported by ``nova alerts render``."""

TTFT = "gen_ai_server_time_to_first_token_seconds"
TPOT = "gen_ai_server_time_per_output_token_seconds"
E2E = "gen_ai_server_request_duration_seconds"
TOKENS = "gen_ai_client_token_usage"
REQUESTS = "nova_gateway_requests_total"
FALLBACKS = "nova_gateway_fallbacks_total"
RAIL_BLOCKS = "nova_gateway_rail_blocks_total"
BUDGET_REJECTIONS = "nova_gateway_budget_rejections_total"
STREAM_CUTS = "nova_gateway_stream_cuts_total"
COST = "nova_gateway_cost_usd_total"
OVERHEAD = "nova_gateway_overhead_seconds"


def le_matcher(seconds: float) -> str:
    """Regex for the ``le`` label of the bucket edge ``seconds``, as Go (``12``) and Python's
    prometheus_client (``12.0``) both write it.

    >>> le_matcher(12.0), le_matcher(1.5)
    ('12(\\\\.0)?', '1\\\\.5')
    """
    if float(seconds).is_integer():
        return f"{int(seconds)}(\\.0)?"
    return re.escape(repr(float(seconds)))
