"""The contents of deploy/monitoring/: Prometheus, Alertmanager, promtool tests, runbook."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from nova.config import MonitoringSettings, NovaConfig, Receiver
from nova.observability._rules import ENGINE_JOB, GATEWAY_JOB, MonitoredCandidate, RulePlan

__all__ = [
    "ALERTMANAGER_FILE",
    "ALERTS_FILE",
    "CUSTOM_RULES_FILE",
    "PROMETHEUS_FILE",
    "RECORDING_FILE",
    "RUNBOOK_FILE",
    "TESTS_FILE",
    "alertmanager_config",
    "owners",
    "prometheus_config",
    "rule_files",
    "runbook",
    "unit_tests",
    "yaml_text",
]

PROMETHEUS_FILE = "prometheus/prometheus.yml"
RECORDING_FILE = "prometheus/rules/nova-recording.yml"
ALERTS_FILE = "prometheus/rules/nova-alerts.yml"
CUSTOM_RULES_FILE = "prometheus/rules/custom_rules.yml"
TESTS_FILE = "prometheus/tests/nova-alerts.test.yml"
ALERTMANAGER_FILE = "alertmanager/alertmanager.yml"
RUNBOOK_FILE = "RUNBOOK.md"

HEADER = (
    "# Written by `python -m nova alerts render` from nova.yaml; do not edit: nova rewrites it\n"
    "# (an edited copy is kept beside it as *.edited-<time>). Own additions go to\n"
    "# prometheus/rules/custom_rules.yml, which nova creates once and never touches.\n"
)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def yaml_text(doc: Any, header: str = HEADER) -> str:
    """YAML with multi-line strings as blocks, keys in the given order, nova's header."""
    # no line folding: a folded "{{ $labels.x }}" still works but reads badly
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
    return header + body


def runbook_url(ms: MonitoringSettings, anchor: str) -> str:
    """Link to the alert's section of the generated runbook."""
    base = (ms.runbook_base_url or "").rstrip("/")
    path = f"deploy/monitoring/{RUNBOOK_FILE}#{anchor}"
    return f"{base}/{path}" if base else path


def rule_files(plan: RulePlan, ms: MonitoringSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """(recording rules, alert rules) as Prometheus rule files."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in plan.alerts:
        groups.setdefault(a.group, []).append(a.rule(runbook_url(ms, a.runbook_anchor)))
    alerts = {"groups": [{"name": g, "rules": rules} for g, rules in groups.items()]}
    return {"groups": plan.recording}, alerts


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc


def prometheus_config(config: NovaConfig, monitored: list[MonitoredCandidate]) -> dict[str, Any]:
    """prometheus.yml: scrape the gateway and the engines, load nova's and the team's rules."""
    ms = config.monitoring
    scrape: list[dict[str, Any]] = [
        {"job_name": GATEWAY_JOB, "static_configs": [{"targets": [ms.gateway_target]}]},
    ]
    engines = [m for m in monitored if m.engine is not None and m.target]
    if engines:
        scrape.append(
            {
                "job_name": ENGINE_JOB,
                "static_configs": [
                    {
                        "targets": [m.target],
                        "labels": {"candidate": m.candidate.id, "nova_engine": m.engine.id},
                    }
                    for m in engines
                    if m.engine is not None and m.target is not None
                ],
            }
        )
    return {
        "global": {
            "scrape_interval": ms.scrape_interval,
            "evaluation_interval": ms.evaluation_interval,
            "external_labels": {"workspace": config.name},
        },
        "rule_files": [
            RECORDING_FILE.removeprefix("prometheus/"),
            ALERTS_FILE.removeprefix("prometheus/"),
            CUSTOM_RULES_FILE.removeprefix("prometheus/"),
        ],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [_hostport(ms.alertmanager_url)]}]}]
        },
        "scrape_configs": scrape,
    }


def owners(config: NovaConfig, plan: RulePlan) -> list[str]:
    """Every owner an alert routes to: KPI owners, plus Platform and Security."""
    seen = {a.labels["owner"] for a in plan.alerts} | {"Platform", "Security"}
    seen |= {k.owner for k in config.kpis if k.alert}
    return sorted(seen)


def _slug(owner: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", owner.lower()).strip("-") or "owner"


def _receiver(owner: str, r: Receiver | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f"owner-{_slug(owner)}"}
    if r is None or (r.webhook_url is None and r.email_to is None):
        # A placeholder that fails loudly in Alertmanager's log until it is replaced.
        out["webhook_configs"] = [
            {"url": f"http://alert-receiver.invalid/{_slug(owner)}", "send_resolved": True}
        ]
        return out
    if r.webhook_url is not None:
        hook: dict[str, Any] = {"url": r.webhook_url, "send_resolved": True}
        if r.webhook_token_file:
            hook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials_file": r.webhook_token_file}
            }
        out["webhook_configs"] = [hook]
    if r.email_to is not None:
        mail: dict[str, Any] = {"to": r.email_to, "from": r.email_from, "send_resolved": True}
        if r.smarthost:
            mail["smarthost"] = r.smarthost
        if r.smtp_username:
            mail["auth_username"] = r.smtp_username
        if r.smtp_password_file:
            mail["auth_password_file"] = r.smtp_password_file
        out["email_configs"] = [mail]
    return out


def alertmanager_config(config: NovaConfig, plan: RulePlan) -> dict[str, Any]:
    """alertmanager.yml: one route and receiver per owner; pages repeat hourly, tickets daily."""
    ms = config.monitoring
    names = owners(config, plan)
    routes = []
    for owner in names:
        recv = f"owner-{_slug(owner)}"
        routes.append(
            {
                "matchers": [f'owner="{owner}"'],
                "receiver": recv,
                "routes": [
                    {"matchers": ['severity="page"'], "receiver": recv, "repeat_interval": "1h"},
                    {"matchers": ['severity="ticket"'], "receiver": recv, "repeat_interval": "24h"},
                ],
            }
        )
    return {
        "route": {
            "receiver": "owner-platform",
            "group_by": ["alertname", "candidate"],
            "group_wait": ms.group_wait,
            "group_interval": ms.group_interval,
            "repeat_interval": "4h",
            "routes": routes,
        },
        "inhibit_rules": [
            {
                # While the engine is down, its burn-rate and backlog alerts say nothing new.
                "source_matchers": ['alertname="EngineDown"'],
                "target_matchers": ['alertname!="EngineDown"'],
                "equal": ["candidate"],
            }
        ],
        "receivers": [_receiver(o, ms.receivers.get(o)) for o in names],
    }


def _expand(value: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), value)


def unit_tests(plan: RulePlan, ms: MonitoringSettings) -> dict[str, Any]:
    """promtool unit tests: each burn-rate alert fires at 1.1x its burn and not at 0.9x."""
    tests = []
    for a in plan.alerts:
        for case in a.cases:
            exp: list[dict[str, Any]] = []
            if case.fires:
                labels = {**a.labels, **case.labels}
                exp.append(
                    {
                        "exp_labels": labels,
                        "exp_annotations": {
                            "summary": _expand(a.summary, labels),
                            "description": _expand(a.description, labels),
                            "runbook_url": runbook_url(ms, a.runbook_anchor),
                        },
                    }
                )
            tests.append(
                {
                    "name": f"{a.name} {'fires' if case.fires else 'stays silent'}"
                    + (f": {case.note}" if case.note else ""),
                    "interval": "1m",
                    "input_series": [{"series": s, "values": v} for s, v in case.series],
                    "alert_rule_test": [
                        {"eval_time": case.eval_time, "alertname": a.name, "exp_alerts": exp}
                    ],
                }
            )
    return {
        "rule_files": ["../rules/nova-recording.yml", "../rules/nova-alerts.yml"],
        # Rules are evaluated every 5 min of test time (samples stay 1 min apart): 5x fewer
        # evaluations than 1 min, and every `for` (2 min to 1 h) is still exceeded.
        "evaluation_interval": "5m",
        "tests": tests,
    }


def runbook(config: NovaConfig, plan: RulePlan) -> str:
    """RUNBOOK.md: one section per alert (the anchor of its runbook_url)."""
    de = config.governance.language == "de"
    lines = [
        "# Runbook: " + ("Alerts von" if de else "alerts of") + f" {config.name}",
        "",
        (
            "Geschrieben von `python -m nova alerts render`; Schwellen stehen in nova.yaml."
            if de
            else "Written by `python -m nova alerts render`; thresholds live in nova.yaml."
        ),
        "",
    ]
    for a in plan.alerts:
        lines += [
            f'<a id="{a.runbook_anchor}"></a>',
            f"## {a.name}",
            "",
            f"- {'Schwere' if de else 'Severity'}: {a.labels['severity']}; "
            f"{'Verantwortlich' if de else 'Owner'}: {a.labels['owner']}; "
            f"KPI: `{a.labels['kpi']}`",
            f"- {_expand(a.summary, {'candidate': '<candidate>'})}",
            f"- {_expand(a.description, {'candidate': '<candidate>'})}",
        ]
        if a.steps:
            lines.append(f"- {'Erste Schritte' if de else 'First steps'}: {a.steps}")
        if not a.labels["kpi"].startswith("ops:"):
            lines.append(
                f"- {'KPI-Katalog' if de else 'KPI catalogue'}: "
                "[docs/governance/kpi_catalogue.md](../../docs/governance/kpi_catalogue.md)"
            )
        lines += ["", "```promql", a.expr, "```", ""]
    return "\n".join(lines)
