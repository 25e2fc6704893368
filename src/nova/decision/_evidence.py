"""Evidence: every number a decision or a document uses, with where it came from.

A ``Measurement`` is one value for one candidate (measured in a run, or a catalog fact) plus
its interval, unit and source; ``Evidence`` collects them for all candidates. The matrix, the
governance documents and the decision record all read this one structure, so every cell can
link to its run id, dataset hash, price sheet or catalog source.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nova.perf import CostEstimate

__all__ = ["METRIC_NAMES", "CandidateEvidence", "Evidence", "Measurement", "RunRef"]

METRIC_NAMES: dict[str, str] = {
    "pass_rate": "Eval pass rate (share of cases)",
    "win_rate": "Paired win rate vs the baseline",
    "missed_escalation_rate": "Missed escalations (share of cases needing one)",
    "unnecessary_escalation_rate": "Unnecessary escalations",
    "attack_success_rate": "Red-team attack success rate (with rails when measured)",
    "attack_success_rate_no_rails": "Red-team attack success rate without rails",
    "over_refusal_rate": "Benign look-alike requests refused (over-refusal)",
    "over_refusal_rate_evals": "Eval answers refused that needed no refusal",
    "ttft_ms_p50": "Time to first token, median (ms)",
    "ttft_ms_p95": "Time to first token, p95 (ms)",
    "tpot_ms_p50": "Time per output token, median (ms)",
    "itl_ms_p50": "Inter-token latency, median (ms)",
    "e2el_ms_p95": "End-to-end latency, p95 (ms)",
    "output_tokens_per_s": "Output tokens per second (at the chosen operating point)",
    "requests_per_s": "Requests per second",
    "goodput": "Requests per second meeting all SLOs",
    "error_rate": "Failed requests (share)",
    "cost_per_1k_conversations": "USD per 1,000 conversations of the profile's length "
    "(EUR at the catalog's dated reference rate in the detail)",
    "cost_per_mtok_output": "USD per 1M output tokens",
    "context_window": "Context window (tokens)",
    "license.commercial_use": "License allows commercial use",
    "license.eu_restricted": "License excludes EU licensees",
    "license.open_weights": "Open weights",
}
"""Metric keys used across nova (KPI ``metric`` values map onto these)."""


class RunRef(BaseModel):
    """A stored run that evidence comes from."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Run id."""
    kind: str
    """quality, performance, redteam."""
    started_at: dt.datetime
    """Start (UTC)."""
    config_hash: str | None = None
    """Config hash of the run."""
    datasets: dict[str, str] = Field(default_factory=dict)
    """Dataset name -> sha256 (quality runs)."""


class Measurement(BaseModel):
    """One value for one candidate, with its uncertainty and its source."""

    model_config = ConfigDict(extra="forbid")

    value: float | bool | str | None
    """The value (None: not measured)."""
    low: float | None = None
    """Lower bound of the 95% interval, where there is one."""
    high: float | None = None
    """Upper bound of the 95% interval."""
    unit: str = ""
    """Unit for display (``ms``, ``USD``, ``%`` for shares 0..1, ``tokens``)."""
    source: str
    """``run:<id>``, ``catalog:<model id>``, ``price-sheet:<id>`` or ``not measured``."""
    detail: str = ""
    """How it was computed, or the catalog source URL and date."""
    cases: dict[str, float] | None = None
    """Case id -> per-case value, where ``value`` is their mean (rates of a quality run): the
    matrix resamples them (paired bootstrap) for P(rank 1) and the measurement noise."""

    @property
    def measured(self) -> bool:
        """Whether there is a value."""
        return self.value is not None

    def fmt(self) -> str:
        """Human form: ``82.0% [74.1–88.0]``, ``412 ms``, ``yes``, ``not measured``."""
        v = self.value
        if v is None:
            return "not measured"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, str):
            return v
        if self.unit == "%":
            out = f"{v:.1%}"
            if self.low is not None and self.high is not None:
                out += f" [{self.low:.1%}–{self.high:.1%}]"
            return out
        out = f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
        if self.low is not None and self.high is not None:
            out += f" [{self.low:,.4g}–{self.high:,.4g}]"
        return f"{out} {self.unit}".strip()


class CandidateEvidence(BaseModel):
    """All measurements of one candidate."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    catalog: str | None = None
    """Catalog model id."""
    metrics: dict[str, Measurement] = Field(default_factory=dict)
    """Metric key (see METRIC_NAMES) -> measurement."""

    def get(self, key: str) -> Measurement:
        """The measurement, or a "not measured" placeholder."""
        return self.metrics.get(key) or Measurement(value=None, source="not measured")


class Evidence(BaseModel):
    """Evidence for every candidate, and the runs it came from."""

    model_config = ConfigDict(extra="forbid")

    generated_at: dt.datetime
    """When this evidence was collected (UTC)."""
    nova_version: str
    """nova version."""
    config_hash: str
    """Config hash of nova.yaml at collection time."""
    candidates: dict[str, CandidateEvidence] = Field(default_factory=dict)
    """Candidate id -> evidence."""
    runs: dict[str, RunRef] = Field(default_factory=dict)
    """Run id -> reference."""
    costs: dict[str, CostEstimate] = Field(default_factory=dict)
    """Candidate id -> cost in USD and EUR, per 1,000 conversations and per month, with the
    price sheet (flagged when stale) and the exchange rate with its date."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Anything else worth recording (price-sheet dates, profile)."""
