"""The shapes the rule builders share: alert specs with their unit cases, the burn tiers,
the monitored candidates, and small PromQL helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nova.config import Candidate
from nova.observability import _gateway as gw
from nova.observability._engines import EngineProfile
from nova.observability._texts import Lang

__all__ = [
    "BURN_TIERS",
    "ENGINE_JOB",
    "GATEWAY_JOB",
    "WINDOWS",
    "AlertSpec",
    "BurnTier",
    "MonitoredCandidate",
    "RulePlan",
    "UnitCase",
]

ENGINE_JOB = "nova-engine"
GATEWAY_JOB = "nova-gateway"
WINDOWS = ("5m", "30m", "1h", "6h", "3d")


@dataclass(frozen=True)
class BurnTier:
    """One row of the SRE workbook's multi-window table."""

    suffix: str
    factor: float
    long: str
    short: str
    severity: str
    for_: str


BURN_TIERS = (
    BurnTier("Page1h", 14.4, "1h", "5m", "page", "2m"),
    BurnTier("Page6h", 6.0, "6h", "30m", "page", "15m"),
    BurnTier("Ticket3d", 1.0, "3d", "6h", "ticket", "1h"),
)


@dataclass(frozen=True)
class MonitoredCandidate:
    """A candidate whose traffic is watched, with its engine (None: managed, gateway only)."""

    candidate: Candidate
    engine: EngineProfile | None
    target: str | None
    """``host:port`` of the engine's /metrics."""


@dataclass
class UnitCase:
    """One promtool unit test: input series, and whether the alert fires at ``eval_time``."""

    series: list[tuple[str, str]]
    eval_time: str
    fires: bool
    labels: dict[str, str] = field(default_factory=dict)
    """Labels the firing alert carries besides the rule's own (from the series)."""
    note: str = ""


@dataclass
class AlertSpec:
    """One alert rule plus what its runbook entry and unit tests need."""

    name: str
    group: str
    expr: str
    for_: str
    labels: dict[str, str]
    summary: str
    description: str
    runbook_anchor: str
    cases: list[UnitCase] = field(default_factory=list)
    steps: str = ""
    """First steps for the runbook."""

    def rule(self, runbook_url: str) -> dict[str, Any]:
        """The rule as Prometheus reads it."""
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": dict(self.labels),
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": runbook_url,
            },
        }


@dataclass
class RulePlan:
    """Everything the rule files, unit tests and runbook are written from."""

    recording: list[dict[str, Any]]
    alerts: list[AlertSpec]
    skipped: list[tuple[str, str]]
    """(KPI id, reason) for KPIs with ``alert: true`` that nova cannot watch at run time."""
    notes: list[str]
    """Burn tiers left out, and similar facts the README states."""


def _camel(kpi_id: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in kpi_id.replace(".", "-").split("-") if p)


def _num(x: float, lang: Lang) -> str:
    """``1.5`` in English, ``1,5`` in German."""
    v = f"{x:.4g}"
    return v.replace(".", ",") if lang == "de" else v


def _pct(x: float, lang: Lang) -> str:
    v = _num(x * 100, lang)
    return f"{v} %" if lang == "de" else f"{v}%"


def _secs(seconds: float, lang: Lang = "en") -> str:
    if seconds < 1:
        return f"{_num(seconds * 1000, lang)} ms"
    return f"{_num(seconds, lang)} s"


_WINDOW_TEXT = {"5m": "5 min", "30m": "30 min", "1h": "1 h", "6h": "6 h", "3d": "3 d"}


def _window(w: str) -> str:
    """A window as people write it: ``5 min``, ``1 h``, ``3 d``."""
    return _WINDOW_TEXT.get(w, w)


def _esc(value: str) -> str:
    """A PromQL double-quoted string escapes its backslashes (regex ``1\\.5`` is ``"1\\\\.5"``)."""
    return value.replace("\\", "\\\\")


def _sel(metric: str, **matchers: str) -> str:
    inner = ",".join(
        f'{k[:-3]}=~"{_esc(v)}"'
        if k.endswith("_re")
        else f'{k[:-3]}!="{v}"'
        if k.endswith("_ne")
        else f'{k}="{v}"'
        for k, v in matchers.items()
    )
    return f"{metric}{{{inner}}}" if inner else metric


def _routed(**extra: str) -> str:
    return _sel(gw.REQUESTS, candidate_ne="", **extra)


def _runbook_anchor(name: str) -> str:
    return name.lower()
