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

from typing import Any

from nova.config import Kpi, NovaConfig
from nova.observability import _gateway as gw
from nova.observability._ops import engine_alerts, engine_recording, gateway_alerts
from nova.observability._spec import (
    BURN_TIERS,
    ENGINE_JOB,
    GATEWAY_JOB,
    WINDOWS,
    AlertSpec,
    BurnTier,
    MonitoredCandidate,
    RulePlan,
    UnitCase,
    _camel,
    _num,
    _pct,
    _routed,
    _runbook_anchor,
    _secs,
    _sel,
    _window,
)
from nova.observability._texts import CANDIDATE, Lang, text

__all__ = [
    "BURN_TIERS",
    "ENGINE_JOB",
    "GATEWAY_JOB",
    "AlertSpec",
    "BurnTier",
    "MonitoredCandidate",
    "RulePlan",
    "UnitCase",
    "build_rules",
    "latency_targets",
]


_LATENCY_METRICS = {
    "ttft_ms": (gw.TTFT, {}),
    "tpot_ms": (gw.TPOT, {}),
    "itl_ms": (gw.TPOT, {}),
    "e2el_ms": (gw.E2E, {"error_type": ""}),
}
_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


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


def _burn_alerts(
    kpi: Kpi,
    lang: Lang,
    recording: list[dict[str, Any]],
    notes: list[str],
    page_for: str | None = None,
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
                f"{tier.factor:g} x the {_pct(budget, 'en')} error budget reaches 100%"
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
            for_=page_for if page_for and tier.severity == "page" else tier.for_,
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
                factor=_num(tier.factor, lang),
                long=_window(tier.long),
                short=_window(tier.short),
                cand=CANDIDATE,
            ),
            description=text(
                desc_key,
                lang,
                threshold=_pct(threshold, lang),
                target=_secs(target_s, lang),
                long=_window(tier.long),
                short=_window(tier.short),
                budget=_pct(budget, lang),
            ),
            runbook_anchor=_runbook_anchor(name),
            steps=text(f"steps.burn.{kind}", lang),
        )
        spec.cases = [
            _burn_case(kind, kpi, target_s, threshold * 1.1, tier, fires=True),
            _burn_case(kind, kpi, target_s, threshold * 0.9, tier, fires=False),
        ]
        alerts.append(spec)
    if kind == "latency":
        alerts.append(_bucket_missing(kpi, lang, target_s))
    return alerts


def _bucket_missing(kpi: Kpi, lang: Lang, target_s: float) -> AlertSpec:
    """The histogram is there but has no bucket edge at the target: the burn-rate alerts of
    this KPI read an empty series and can never fire. Say so instead of staying silent."""
    metric, extra = _LATENCY_METRICS[kpi.metric]
    name = f"{_camel(kpi.id)}BucketMissing"
    count = _sel(f"{metric}_count", **extra)
    edge = _sel(f"{metric}_bucket", le_re=gw.le_matcher(target_s), **extra)
    spec = AlertSpec(
        name=name,
        group=f"nova-slo-{kpi.id}",
        expr=f"count({count}) > 0\nunless\ncount({edge}) > 0",
        for_="15m",
        labels={"severity": "ticket", "owner": "Platform", "kpi": kpi.id},
        summary=text("bucket.summary", lang, kpi=kpi.name, target=_secs(target_s, lang)),
        description=text("bucket.description", lang, metric=metric, target=f"{target_s:g}"),
        runbook_anchor=_runbook_anchor(name),
        steps=text("steps.bucket", lang),
    )
    labels = {"candidate": "c", **extra}
    other = _sel(f"{metric}_bucket", le="+Inf", **labels)
    at_target = _sel(f"{metric}_bucket", le=f"{target_s:g}", **labels)
    spec.cases = [
        UnitCase([(_sel(f"{metric}_count", **labels), "0+10x30"), (other, "0+10x30")], "30m", True),
        UnitCase(
            [
                (_sel(f"{metric}_count", **labels), "0+10x30"),
                (other, "0+10x30"),
                (at_target, "0+9x30"),
            ],
            "30m",
            False,
        ),
    ]
    return spec


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
        spec = AlertSpec(
            name,
            f"nova-kpi-{kpi.id}",
            expr,
            "30m",
            base,
            text("cost.summary", lang, kpi=kpi.name, target=_num(kpi.target, lang), cand=CANDIDATE),
            text("cost.description", lang),
            _runbook_anchor(name),
            steps=text("steps.cost", lang),
        )
        # one request a minute costing 1.2x / 0.8x the target per 1,000
        req = _sel(gw.REQUESTS, candidate="c", code="200")
        cost = _sel(gw.COST, candidate="c")
        spec.cases = [
            UnitCase([(req, "0+1x60"), (cost, f"0+{kpi.target * 1.2 / 1000:g}x60")], "60m",
                     True, {"candidate": "c"}),
            UnitCase([(req, "0+1x60"), (cost, f"0+{kpi.target * 0.8 / 1000:g}x60")], "60m",
                     False),
        ]  # fmt: skip
        return spec
    if kpi.metric == "tokens_per_request" and kpi.direction == "lower":
        expr = (
            f"sum by (candidate) (rate({gw.TOKENS}_sum[1h]))\n/\n"
            f"sum by (candidate) (rate({_sel(gw.TOKENS + '_count', gen_ai_token_type='input')}"
            f"[1h]))\n> {kpi.target:g}"
        )
        spec = AlertSpec(
            name,
            f"nova-kpi-{kpi.id}",
            expr,
            "30m",
            base,
            text(
                "tokens.summary", lang, kpi=kpi.name, target=_num(kpi.target, lang), cand=CANDIDATE
            ),
            text("tokens.description", lang),
            _runbook_anchor(name),
            steps=text("steps.tokens", lang),
        )
        # one request a minute with 1.2x / 0.8x the target tokens (half input, half output)
        spec.cases = [
            UnitCase(
                _token_series(kpi.target * f), "60m", f > 1, {"candidate": "c"} if f > 1 else {}
            )
            for f in (1.2, 0.8)
        ]
        return spec
    if kpi.metric in _LATENCY_METRICS and kpi.statistic == "mean" and kpi.direction == "lower":
        metric, extra = _LATENCY_METRICS[kpi.metric]
        target_s = kpi.target / 1000
        expr = (
            f"sum by (candidate) (rate({_sel(metric + '_sum', **extra)}[30m]))\n/\n"
            f"sum by (candidate) (rate({_sel(metric + '_count', **extra)}[30m]))\n> {target_s:g}"
        )
        spec = AlertSpec(
            name,
            f"nova-kpi-{kpi.id}",
            expr,
            "15m",
            base,
            text("mean.summary", lang, kpi=kpi.name, target=_secs(target_s, lang), cand=CANDIDATE),
            text("mean.description", lang, target=_secs(target_s, lang)),
            _runbook_anchor(name),
            steps=text("steps.mean", lang),
        )
        # 100 requests a minute, each taking 1.2x / 0.8x the target
        spec.cases = [
            UnitCase(
                [
                    (_sel(f"{metric}_sum", candidate="c", **extra), f"0+{100 * target_s * f:g}x60"),
                    (_sel(f"{metric}_count", candidate="c", **extra), "0+100x60"),
                ],
                "60m",
                f > 1,
                {"candidate": "c"} if f > 1 else {},
            )
            for f in (1.2, 0.8)
        ]
        return spec
    return None


def _token_series(tokens: float) -> list[tuple[str, str]]:
    out = []
    for kind in ("input", "output"):
        labels = {"candidate": "c", "gen_ai_token_type": kind}
        out.append((_sel(f"{gw.TOKENS}_sum", **labels), f"0+{tokens / 2:g}x60"))
        out.append((_sel(f"{gw.TOKENS}_count", **labels), "0+1x60"))
    return out


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
        burn = _burn_alerts(kpi, lang, recording, notes, ms.burn_page_for)
        if burn is not None:
            alerts += burn
            continue
        single = _threshold_alert(kpi, lang)
        if single is not None:
            alerts.append(single)
        else:
            skipped.append((kpi.id, _skip_reason(kpi)))
    recording += engine_recording(monitored)
    alerts += gateway_alerts(ms, lang)
    alerts += engine_alerts(monitored, ms, lang)
    return RulePlan(recording=recording, alerts=alerts, skipped=skipped, notes=notes)


def latency_targets(config: NovaConfig) -> list[tuple[str, str, float]]:
    """(KPI id, gateway histogram, target seconds) of every latency quantile KPI with an alert."""
    out = []
    for kpi in config.kpis:
        if kpi.alert and kpi.metric in _LATENCY_METRICS and kpi.statistic in _QUANTILES:
            out.append((kpi.id, _LATENCY_METRICS[kpi.metric][0], kpi.target / 1000))
    return out
