"""Engine-style (vLLM V1 named) Prometheus metrics of nova's mock server, so monitoring can be
tested against a live /metrics: the same names and labels as vLLM's PrometheusStatLogger
(vllm/v1/metrics/loggers.py), filled from the requests the mock really served.

The mock has no scheduler queue and no KV cache: ``vllm:num_requests_waiting`` is always 0 and
the KV-cache and preemption metrics are not exported.
"""

from __future__ import annotations

import bisect
from collections import Counter

__all__ = ["VllmStyleMetrics"]

# vLLM's own bucket edges (seconds) for these two histograms.
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)  # fmt: skip
_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)  # fmt: skip


class _Histogram:
    def __init__(self, edges: tuple[float, ...]) -> None:
        self.edges = edges
        self.counts = [0] * (len(edges) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.edges, value)] += 1
        self.total += value

    def lines(self, name: str, labels: str) -> list[str]:
        out, acc = [], 0
        for edge, n in zip((*self.edges, float("inf")), self.counts, strict=True):
            acc += n
            le = "+Inf" if edge == float("inf") else repr(float(edge))
            out.append(f'{name}_bucket{{{labels},le="{le}"}} {acc}')
        out.append(f"{name}_count{{{labels}}} {acc}")
        out.append(f"{name}_sum{{{labels}}} {self.total}")
        return out


class VllmStyleMetrics:
    """Counters and histograms of the served chat completions, rendered with vLLM's names."""

    def __init__(self) -> None:
        self.ttft = _Histogram(_TTFT_BUCKETS)
        self.e2e = _Histogram(_E2E_BUCKETS)
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.finished: Counter[str] = Counter()

    def observe(
        self, ttft_s: float, e2e_s: float, prompt_tokens: int, tokens: int, finish: str
    ) -> None:
        """One successful request: its time to first token, end-to-end time and tokens."""
        self.ttft.observe(ttft_s)
        self.e2e.observe(e2e_s)
        self.prompt_tokens += prompt_tokens
        self.generation_tokens += tokens
        self.finished[finish] += 1

    def render(self, model: str, running: int) -> list[str]:
        """Exposition lines; ``running`` is the number of chat requests in progress."""
        lab = f'model_name="{model}",engine="0"'
        lines = [
            "# HELP vllm:num_requests_running Number of requests in model execution batches.",
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{{{lab}}} {running}",
            "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{{{lab}}} 0",
            "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.",
            "# TYPE vllm:prompt_tokens_total counter",
            f"vllm:prompt_tokens_total{{{lab}}} {self.prompt_tokens}",
            "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
            "# TYPE vllm:generation_tokens_total counter",
            f"vllm:generation_tokens_total{{{lab}}} {self.generation_tokens}",
            "# HELP vllm:request_success_total Count of successfully processed requests.",
            "# TYPE vllm:request_success_total counter",
        ]
        for reason in ("stop", "length"):
            lines.append(
                f'vllm:request_success_total{{{lab},finished_reason="{reason}"}} '
                f"{self.finished[reason]}"
            )
        lines += [
            "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.",
            "# TYPE vllm:time_to_first_token_seconds histogram",
            *self.ttft.lines("vllm:time_to_first_token_seconds", lab),
            "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.",
            "# TYPE vllm:e2e_request_latency_seconds histogram",
            *self.e2e.lines("vllm:e2e_request_latency_seconds", lab),
        ]
        return lines
