"""Operational alerts (gateway and engine down, no traffic, queue backlog, KV-cache
saturation, preemptions, fallback rate, guardrail block spikes, budgets) and the engine
recording rules that give every engine the same series names."""

from __future__ import annotations

from typing import Any

from nova.config import MonitoringSettings
from nova.observability import _gateway as gw
from nova.observability._spec import (
    ENGINE_JOB,
    GATEWAY_JOB,
    AlertSpec,
    MonitoredCandidate,
    UnitCase,
    _pct,
    _routed,
    _runbook_anchor,
)
from nova.observability._texts import CANDIDATE, Lang, text

__all__ = ["engine_alerts", "engine_recording", "gateway_alerts"]


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
        steps=text(f"steps.{name}", lang),
    )


def engine_recording(monitored: list[MonitoredCandidate]) -> list[dict[str, Any]]:
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


def engine_alerts(
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
    pre = [m for m in engines if m.engine and m.engine.preemptions is not None]
    if pre:
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
        pp = pre[0].engine
        assert pp is not None and pp.preemptions is not None
        ps = {"job": ENGINE_JOB, "nova_engine": pp.id, "candidate": pre[0].candidate.id}
        out[-1].cases = [
            UnitCase([(pp.preemptions.promql(**ps), "0+1x40")], "40m", True,
                     {"candidate": pre[0].candidate.id}),
            UnitCase([(pp.preemptions.promql(**ps), "5x40")], "40m", False),
        ]  # fmt: skip
    return out


def gateway_alerts(ms: MonitoringSettings, lang: Lang) -> list[AlertSpec]:
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
            # The baseline averages 10-minute rates over the day before (a subquery): rate()
            # over [1d] would divide by a whole day even when Prometheus holds 2 h of data,
            # and every restart would page as a spike.
            f"sum by (rail, stage) (rate({gw.RAIL_BLOCKS}[10m]))\n"
            f"> {ms.rail_block_spike:g} * sum by (rail, stage) "
            f"(avg_over_time(rate({gw.RAIL_BLOCKS}[10m])[1d:10m] offset 10m))\n"
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
    for a in out:
        a.cases = _gateway_cases(a.name, ms)
    return out


def _gateway_cases(name: str, ms: MonitoringSettings) -> list[UnitCase]:
    """Fires / stays silent, for each gateway alert (promtool unit tests)."""
    req = f'{gw.REQUESTS}{{candidate="c",code="200"}}'
    up = f'up{{job="{GATEWAY_JOB}",instance="g:8080"}}'
    if name == "GatewayDown":
        return [
            UnitCase([(up, "1 1 0x30")], "20m", True, {"instance": "g:8080", "job": GATEWAY_JOB}),
            UnitCase([(up, "1x30")], "20m", False),
        ]
    if name == "NoTraffic":
        return [
            UnitCase([(up, "1x40"), (req, "0+0x40")], "40m", True),
            UnitCase([(up, "1x40"), (req, "0+10x40")], "40m", False),
        ]
    if name == "FallbackRateHigh":
        fb = f'{gw.FALLBACKS}{{from_candidate="c",to_candidate="f",reason="http_503"}}'
        hi, lo = round(100 * ms.fallback_rate * 1.2, 3), round(100 * ms.fallback_rate * 0.8, 3)
        return [
            UnitCase([(req, "0+100x40"), (fb, f"0+{hi:g}x40")], "40m", True),
            UnitCase([(req, "0+100x40"), (fb, f"0+{lo:g}x40")], "40m", False),
        ]
    if name == "GuardrailBlockSpike":
        rb = f'{gw.RAIL_BLOCKS}{{rail="pii",stage="input"}}'
        # 1 block a minute for 2 h, then a jump to k times that for 30 min
        k = ms.rail_block_spike * 5
        jump = f"0+1x120 {120 + k:g}+{k:g}x29"
        return [
            UnitCase([(rb, jump)], "150m", True, {"rail": "pii", "stage": "input"}),
            UnitCase([(rb, "0+1x150")], "150m", False),
        ]
    if name == "BudgetRejections":
        br = f'{gw.BUDGET_REJECTIONS}{{kind="tpm"}}'
        return [
            UnitCase([(br, "0 0 0 5x20")], "10m", True, {"kind": "tpm"}),
            UnitCase([(br, "0x20")], "10m", False),
        ]
    # Budget projections read rate() over [1h], which counts a whole hour even when there is
    # less data: they start to fire once Prometheus holds an hour (evaluated at 80 min).
    if name == "TokenBudgetBurn" and ms.daily_tokens is not None:
        tok = f'{gw.TOKENS}_sum{{candidate="c",gen_ai_token_type="output"}}'
        per_min = ms.daily_tokens / 1440
        return [
            UnitCase([(tok, f"0+{per_min * 1.2:g}x80")], "80m", True),
            UnitCase([(tok, f"0+{per_min * 0.8:g}x80")], "80m", False),
        ]
    if name == "CostBudgetBurn" and ms.daily_cost_usd is not None:
        cost = f'{gw.COST}{{candidate="c"}}'
        per_min = ms.daily_cost_usd / 1440
        return [
            UnitCase([(cost, f"0+{per_min * 1.2:g}x80")], "80m", True),
            UnitCase([(cost, f"0+{per_min * 0.8:g}x80")], "80m", False),
        ]
    return []
