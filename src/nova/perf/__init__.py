"""Performance benchmarks: load patterns, vLLM-style latency metrics, goodput and cost."""

from nova.perf._chart import latency_throughput_chart
from nova.perf._cost import (
    CostEstimate,
    estimate_cost,
    in_eur_and_per_month,
    managed_cost,
    self_hosted_cost,
)
from nova.perf._load import run_level, synthetic_prompts
from nova.perf._metrics import (
    DEFINITIONS,
    LevelMetrics,
    RequestSample,
    Summary,
    compute_level,
    percentile,
    summarize,
)
from nova.perf._runner import (
    CandidatePerf,
    PerfSpec,
    choose_operating_point,
    merge_perf,
    run_perf,
    spec_fields_from_profile,
)

__all__ = [
    "DEFINITIONS",
    "CandidatePerf",
    "CostEstimate",
    "LevelMetrics",
    "PerfSpec",
    "RequestSample",
    "Summary",
    "choose_operating_point",
    "compute_level",
    "estimate_cost",
    "in_eur_and_per_month",
    "latency_throughput_chart",
    "managed_cost",
    "merge_perf",
    "percentile",
    "run_level",
    "run_perf",
    "self_hosted_cost",
    "spec_fields_from_profile",
    "summarize",
    "synthetic_prompts",
]
