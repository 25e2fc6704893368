"""Prometheus recording and alert rules from the KPI catalogue, the gateway's metrics and the
engine profiles of the monitored candidates.

SLO alerts are multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on SLOs",
table 5-8): page when the error budget burns 14.4 times too fast over 1 h and 5 min (2 % of a
30-day budget in one hour) or 6 times over 6 h and 30 min (5 % in six hours); open a ticket at
1 times over 3 days and 6 h (10 % in three days). The long window makes the alert significant,
the short one makes it reset soon after the cause ends. A tier whose threshold reaches 100 %
(e.g. 14.4 x the 50 % budget of a p50 target) can never fire and is left out, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nova.config import Candidate, Kpi, MonitoringSettings, NovaConfig
from nova.observability import _gateway as gw
from nova.observability._engines import EngineProfile
from nova.observability._texts import CANDIDATE, Lang, text

__all__ = [
    "BURN_TIERS",
    "AlertSpec",
    "BurnTier",
    "MonitoredCandidate",
    "RulePlan",
    "UnitCase",
    "build_rules",
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
    metrics: set[str] = field(default_factory=set)
    """Every metric name the rules read (for the per-engine fixture check)."""


def _camel(kpi_id: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in kpi_id.replace(".", "-").split("-") if p)


def _pct(x: float, lang: Lang) -> str:
    v = f"{x * 100:.4g}"
    return f"{v} %" if lang == "de" else f"{v}%"


def _secs(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


_LATENCY_METRICS = {
    "ttft_ms": (gw.TTFT, {}),
    "tpot_ms": (gw.TPOT, {}),
    "itl_ms": (gw.TPOT, {}),
    "e2el_ms": (gw.E2E, {"error_type": ""}),
}
_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


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


def _bad_ratio_exprs(kpi: Kpi) -> tuple[dict[str, str], str, float, float] | None:
    """(window -> bad-ratio expr, kind, budget, target seconds) for a burn-rate KPI."""
    if kpi.metric == "error_rate":
        out = {
            w: f"sum by (candidate) (rate({_routed(code_re='5..')}[{w}]))\n"
            f"/\nsum by (candidate) (rate({_routed()}[{w}]))"
            for w in WINDOWS
        }
        return out, "errors", kpi.target, 0.0
    if kpi.metric in _LATENCY_METRICS and kpi.statistic in _QUANTILES:
        metric, extra = _LATENCY_METRICS[kpi.metric]
        target_s = kpi.target / 1000
        le = gw.le_matcher(target_s)
        good = _sel(f"{metric}_bucket", le_re=le, **extra)
        total = _sel(f"{metric}_count", **extra)
        out = {
            w: f"1 - (\n  sum by (candidate) (rate({good}[{w}]))\n  /\n"
            f"  sum by (candidate) (rate({total}[{w}]))\n)"
            for w in WINDOWS
        }
        return out, "latency", round(1 - _QUANTILES[kpi.statistic], 6), target_s
    return None


def _runbook_anchor(name: str) -> str:
    return name.lower()


def _burn_alerts(
    kpi: Kpi, lang: Lang, recording: list[dict[str, Any]], notes: list[str]
) -> list[AlertSpec] | None:
    found = _bad_ratio_exprs(kpi)
    if found is None:
        return None
    exprs, kind, budget, target_s = found
    rec_name = "nova:kpi_bad:ratio_rate{w}"
    recording.append(
        {
            "name": f"nova-slo-{kpi.id}",
            "rules": [
                {"record": rec_name.format(w=w), "expr": exprs[w], "labels": {"kpi": kpi.id}}
                for w in WINDOWS
            ],
        }
    )
    alerts = []
    for tier in BURN_TIERS:
        threshold = round(tier.factor * budget, 10)
        if threshold >= 1:
            notes.append(
                f"{kpi.id}: the {tier.factor:g}x tier ({tier.long}/{tier.short}) is left out: "
                f"{tier.factor:g} x the {_pct(budget, 'en')} error budget reaches 100 %"
            )
            continue
        name = f"{_camel(kpi.id)}BurnRate{tier.suffix}"
        long_sel = f'{rec_name.format(w=tier.long)}{{kpi="{kpi.id}"}}'
        short_sel = f'{rec_name.format(w=tier.short)}{{kpi="{kpi.id}"}}'
        expr = f"{long_sel} > {threshold:g}\nand\n{short_sel} > {threshold:g}"
        desc_key = "burn.errors" if kind == "errors" else "burn.latency"
        spec = AlertSpec(
            name=name,
            group=f"nova-slo-{kpi.id}",
            expr=expr,
            for_=tier.for_,
            labels={
                "severity": tier.severity,
                "owner": kpi.owner,
                "kpi": kpi.id,
                "slo_windows": f"{tier.long}/{tier.short}",
            },
            summary=text(
                "burn.summary",
                lang,
                kpi=kpi.name,
                factor=f"{tier.factor:g}",
                long=tier.long,
                short=tier.short,
                cand=CANDIDATE,
            ),
            description=text(
                desc_key,
                lang,
                threshold=_pct(threshold, lang),
                target=_secs(target_s),
                long=tier.long,
                short=tier.short,
                budget=_pct(budget, lang),
            ),
            runbook_anchor=_runbook_anchor(name),
        )
        spec.cases = [
            _burn_case(kind, kpi, target_s, threshold * 1.1, tier, fires=True),
            _burn_case(kind, kpi, target_s, threshold * 0.9, tier, fires=False),
        ]
        alerts.append(spec)
    return alerts


def _burn_case(
    kind: str, kpi: Kpi, target_s: float, bad_ratio: float, tier: BurnTier, *, fires: bool
) -> UnitCase:
    """Constant traffic with ``bad_ratio`` bad requests until the evaluation: every window
    sees that ratio (rate() over less data than the window still gives the ratio). Evaluated
    once the tier's short window and ``for`` have passed: 75 min for the 1 h tier, 6 h 15 min
    for the others (a 3-day window needs no 3 days of data for a constant ratio).

    10,000 requests a minute make the ratio exact to 0.01 %, far inside the 10 % margin.
    """
    total = 10_000
    bad = round(total * bad_ratio)
    minutes = 75 if tier.long == "1h" else 375
    cand = "unit-test"
    series: list[tuple[str, str]]
    if kind == "errors":
        series = [
            (_sel(gw.REQUESTS, candidate=cand, code="200"), f"0+{total - bad}x{minutes}"),
            (_sel(gw.REQUESTS, candidate=cand, code="503"), f"0+{bad}x{minutes}"),
            # rejected before routing: must not count as the candidate's errors
            (_sel(gw.REQUESTS, candidate="", code="500"), f"0+{total}x{minutes}"),
        ]
    else:
        metric, extra = _LATENCY_METRICS[kpi.metric]
        le = f"{target_s:g}" if not float(target_s).is_integer() else f"{target_s:.1f}"
        below = [e for e in gw.GATEWAY_LATENCY_BUCKETS if e < target_s]
        series = [
            (
                _sel(f"{metric}_bucket", candidate=cand, le=le, **extra),
                f"0+{total - bad}x{minutes}",
            ),
            (_sel(f"{metric}_bucket", candidate=cand, le="+Inf", **extra), f"0+{total}x{minutes}"),
            (_sel(f"{metric}_count", candidate=cand, **extra), f"0+{total}x{minutes}"),
        ]
        if below:  # a lower edge with fewer requests: the rule must read the target's edge
            le_low = f"{below[-1]:g}"
            series.append(
                (_sel(f"{metric}_bucket", candidate=cand, le=le_low, **extra), f"0+0x{minutes}")
            )
        if kind == "latency" and "error_type" in extra:  # failed requests are not counted
            series.append(
                (
                    _sel(f"{metric}_count", candidate=cand, error_type="timeout"),
                    f"0+{total}x{minutes}",
                )
            )
    return UnitCase(
        series=series,
        eval_time=f"{minutes}m",
        fires=fires,
        labels={"candidate": cand},
        note=f"{bad}/{total} bad requests a minute ({bad / total:.4%}) vs threshold",
    )


def _threshold_alert(kpi: Kpi, lang: Lang) -> AlertSpec | None:
    name = f"{_camel(kpi.id)}AboveTarget"
    base = {"severity": "ticket", "owner": kpi.owner, "kpi": kpi.id}
    if kpi.metric == "cost_per_1k_conversations" and kpi.direction == "lower":
        expr = (
            f"1000 * sum by (candidate) (increase({gw.COST}[6h]))\n/\n"
            f"sum by (candidate) (increase({_routed(code_re='2..')}[6h]))\n> {kpi.target:g}"
        )
        return AlertSpec(
            name,
            f"nova-kpi-{kpi.id}",
            expr,
            "30m",
            base,
            text("cost.summary", lang, kpi=kpi.name, target=f"{kpi.target:g}", cand=CANDIDATE),
            text("cost.description", lang),
            _runbook_anchor(name),
        )
    if kpi.metric == "tokens_per_request" and kpi.direction == "lower":
        expr = (
            f"sum by (candidate) (rate({gw.TOKENS}_sum[1h]))\n/\n"
            f"sum by (candidate) (rate({_sel(gw.TOKENS + '_count', gen_ai_token_type='input')}"
            f"[1h]))\n> {kpi.target:g}"
        )
        return AlertSpec(
            name,
            f"nova-kpi-{kpi.id}",
            expr,
            "30m",
            base,
            text("tokens.summary", lang, kpi=kpi.name, target=f"{kpi.target:g}", cand=CANDIDATE),
            text("tokens.description", lang),
            _runbook_anchor(name),
        )
    if kpi.metric in _LATENCY_METRICS and kpi.statistic == "mean" and kpi.direction == "lower":
        metric, extra = _LATENCY_METRICS[kpi.metric]
        target_s = kpi.target / 1000
        expr = (
            f"sum by (candidate) (rate({_sel(metric + '_sum', **extra)}[30m]))\n/\n"
            f"sum by (candidate) (rate({_sel(metric + '_count', **extra)}[30m]))\n> {target_s:g}"
        )
        return AlertSpec(
            name,
            f"nova-kpi-{kpi.id}",
            expr,
            "15m",
            base,
            text("mean.summary", lang, kpi=kpi.name, target=_secs(target_s), cand=CANDIDATE),
            text("mean.description", lang, target=_secs(target_s)),
            _runbook_anchor(name),
        )
    return None


def _skip_reason(kpi: Kpi) -> str:
    if kpi.direction == "higher" and kpi.metric not in ("goodput",):
        return (
            f"{kpi.metric} is measured by evaluation runs, not by the gateway at run time; "
            "it is checked by `nova benchmarks`"
        )
    return (
        f"no gateway or engine metric gives {kpi.metric} ({kpi.statistic}) at run time; "
        "it is checked by `nova benchmarks`"
    )


def _ops(
    name: str,
    group: str,
    expr: str,
    for_: str,
    owner: str,
    severity: str,
    lang: Lang,
    signal: str,
    **fmt: object,
) -> AlertSpec:
    return AlertSpec(
        name=name,
        group=group,
        expr=expr,
        for_=for_,
        labels={"severity": severity, "owner": owner, "kpi": f"ops:{signal}"},
        summary=text(f"{name}.summary", lang, **fmt),
        description=text(f"{name}.description", lang, **fmt),
        runbook_anchor=_runbook_anchor(name),
    )


def _engine_recording(monitored: list[MonitoredCandidate]) -> list[dict[str, Any]]:
    """nova:engine_* series with one name for every engine, labelled by candidate."""
    rules: list[dict[str, Any]] = []
    for prof in sorted(
        {m.engine.id: m.engine for m in monitored if m.engine}.values(), key=lambda p: p.id
    ):
        scope = {"job": ENGINE_JOB, "nova_engine": prof.id}
        rules.append(
            {
                "record": "nova:engine_requests_waiting",
                "expr": f"sum by (candidate) ({prof.requests_waiting.promql(**scope)})",
            }
        )
        rules.append(
            {
                "record": "nova:engine_requests_running",
                "expr": f"sum by (candidate) ({prof.requests_running.promql(**scope)})",
            }
        )
        if prof.kv_cache_usage is not None:
            rules.append(
                {
                    "record": "nova:engine_kv_cache_usage:ratio",
                    "expr": f"max by (candidate) ({prof.kv_cache_usage.promql(**scope)})",
                }
            )
        if prof.preemptions is not None:
            rules.append(
                {
                    "record": "nova:engine_preemptions:rate5m",
                    "expr": f"sum by (candidate) (rate({prof.preemptions.promql(**scope)}[5m]))",
                }
            )
        for tokens, kind in ((prof.prompt_tokens, "input"), (prof.generation_tokens, "output")):
            if tokens is not None:
                rules.append(
                    {
                        "record": "nova:engine_tokens:rate5m",
                        "labels": {"gen_ai_token_type": kind},
                        "expr": f"sum by (candidate) (rate({tokens.promql(**scope)}[5m]))",
                    }
                )

    return [{"name": "nova-engine", "rules": rules}] if rules else []


def _engine_alerts(
    monitored: list[MonitoredCandidate], ms: MonitoringSettings, lang: Lang
) -> list[AlertSpec]:
    engines = [m for m in monitored if m.engine is not None]
    if not engines:
        return []
    out = []
    c0 = engines[0].candidate.id
    down = _ops(
        "EngineDown",
        "nova-engine",
        f'up{{job="{ENGINE_JOB}"}} == 0',
        ms.engine_down_for,
        "Platform",
        "page",
        lang,
        "engine-up",
        cand=CANDIDATE,
        duration=ms.engine_down_for,
    )
    down.cases = [
        UnitCase(
            [(f'up{{job="{ENGINE_JOB}",candidate="{c0}",instance="e:8000"}}', "1 1 0x30")],
            "20m",
            True,
            {"candidate": c0, "instance": "e:8000", "job": ENGINE_JOB},
        ),
        UnitCase(
            [(f'up{{job="{ENGINE_JOB}",candidate="{c0}",instance="e:8000"}}', "1x30")], "20m", False
        ),
    ]
    out.append(down)
    queue = _ops(
        "QueueBacklog",
        "nova-engine",
        f"nova:engine_requests_waiting > {ms.queue_backlog}",
        "5m",
        "Platform",
        "ticket",
        lang,
        "queue-backlog",
        cand=CANDIDATE,
        threshold=ms.queue_backlog,
    )
    prof = engines[0].engine
    assert prof is not None
    scope = {"job": ENGINE_JOB, "nova_engine": prof.id, "candidate": c0}
    queue.cases = [
        UnitCase(
            [(prof.requests_waiting.promql(**scope), f"{ms.queue_backlog + 1}x30")],
            "20m",
            True,
            {"candidate": c0},
        ),
        UnitCase([(prof.requests_waiting.promql(**scope), f"{ms.queue_backlog}x30")], "20m", False),
    ]
    out.append(queue)
    kv = [m for m in engines if m.engine and m.engine.kv_cache_usage is not None]
    if kv:
        thr = ms.kv_cache_saturation
        alert = _ops(
            "KvCacheSaturation",
            "nova-engine",
            f"nova:engine_kv_cache_usage:ratio > {thr:g}",
            "10m",
            "Platform",
            "ticket",
            lang,
            "kv-cache",
            cand=CANDIDATE,
            threshold=_pct(thr, lang),
        )
        kp = kv[0].engine
        assert kp is not None and kp.kv_cache_usage is not None
        ks = {"job": ENGINE_JOB, "nova_engine": kp.id, "candidate": kv[0].candidate.id}
        alert.cases = [
            UnitCase(
                [(kp.kv_cache_usage.promql(**ks), f"{min(1.0, thr + 0.01):g}x30")],
                "20m",
                True,
                {"candidate": kv[0].candidate.id},
            ),
            UnitCase([(kp.kv_cache_usage.promql(**ks), f"{thr - 0.05:g}x30")], "20m", False),
        ]
        out.append(alert)
    if any(m.engine and m.engine.preemptions is not None for m in engines):
        out.append(
            _ops(
                "EnginePreemptions",
                "nova-engine",
                "nova:engine_preemptions:rate5m > 0",
                "15m",
                "Platform",
                "ticket",
                lang,
                "preemptions",
                cand=CANDIDATE,
            )
        )
    return out


def _gateway_alerts(ms: MonitoringSettings, lang: Lang) -> list[AlertSpec]:
    g = "nova-gateway"
    out = [
        _ops(
            "GatewayDown",
            g,
            f'up{{job="{GATEWAY_JOB}"}} == 0',
            ms.engine_down_for,
            "Platform",
            "page",
            lang,
            "gateway-up",
            target=ms.gateway_target,
            duration=ms.engine_down_for,
        ),
        _ops(
            "NoTraffic",
            g,
            f'sum(up{{job="{GATEWAY_JOB}"}}) > 0\nand\n'
            f"(sum(rate({gw.REQUESTS}[15m])) or vector(0)) == 0",
            "15m",
            "Platform",
            "ticket",
            lang,
            "traffic",
        ),
        _ops(
            "FallbackRateHigh",
            g,
            f"sum(rate({gw.FALLBACKS}[10m]))\n/\nsum(rate({_routed()}[10m]))\n"
            f"> {ms.fallback_rate:g}",
            "10m",
            "Platform",
            "ticket",
            lang,
            "fallback-rate",
            threshold=_pct(ms.fallback_rate, lang),
        ),
        _ops(
            "GuardrailBlockSpike",
            g,
            f"sum by (rail, stage) (rate({gw.RAIL_BLOCKS}[10m]))\n"
            f"> {ms.rail_block_spike:g} * sum by (rail, stage) (rate({gw.RAIL_BLOCKS}[1d]))\n"
            f"and\nsum by (rail, stage) (increase({gw.RAIL_BLOCKS}[10m])) >= 5",
            "5m",
            "Security",
            "ticket",
            lang,
            "rail-blocks",
            rail="{{ $labels.rail }}/{{ $labels.stage }}",
            threshold=f"{ms.rail_block_spike:g}",
        ),
        _ops(
            "BudgetRejections",
            g,
            f"sum by (kind) (increase({gw.BUDGET_REJECTIONS}[10m])) > 0",
            "0m",
            "Platform",
            "ticket",
            lang,
            "budget-rejections",
            kind="{{ $labels.kind }}",
        ),
    ]
    if ms.daily_tokens is not None:
        out.append(
            _ops(
                "TokenBudgetBurn",
                g,
                f"sum(rate({gw.TOKENS}_sum[1h])) * 86400 > {ms.daily_tokens}",
                "15m",
                "Aura",
                "ticket",
                lang,
                "token-budget",
                threshold=ms.daily_tokens,
            )
        )
    if ms.daily_cost_usd is not None:
        out.append(
            _ops(
                "CostBudgetBurn",
                g,
                f"sum(rate({gw.COST}[1h])) * 86400 > {ms.daily_cost_usd:g}",
                "15m",
                "Aura",
                "ticket",
                lang,
                "cost-budget",
                threshold=f"{ms.daily_cost_usd:g}",
            )
        )
    return out


def build_rules(config: NovaConfig, monitored: list[MonitoredCandidate]) -> RulePlan:
    """The recording rules, alerts (with unit cases), skipped KPIs and notes."""
    lang: Lang = "de" if config.governance.language == "de" else "en"
    ms = config.monitoring
    recording: list[dict[str, Any]] = []
    alerts: list[AlertSpec] = []
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    for kpi in config.kpis:
        if not kpi.alert:
            continue
        burn = _burn_alerts(kpi, lang, recording, notes)
        if burn is not None:
            alerts += burn
            continue
        single = _threshold_alert(kpi, lang)
        if single is not None:
            alerts.append(single)
        else:
            skipped.append((kpi.id, _skip_reason(kpi)))
    recording += _engine_recording(monitored)
    alerts += _gateway_alerts(ms, lang)
    alerts += _engine_alerts(monitored, ms, lang)
    return RulePlan(recording=recording, alerts=alerts, skipped=skipped, notes=notes)


def latency_targets(config: NovaConfig) -> list[tuple[str, str, float]]:
    """(KPI id, gateway histogram, target seconds) of every latency quantile KPI with an alert."""
    out = []
    for kpi in config.kpis:
        if kpi.alert and kpi.metric in _LATENCY_METRICS and kpi.statistic in _QUANTILES:
            out.append((kpi.id, _LATENCY_METRICS[kpi.metric][0], kpi.target / 1000))
    return out
