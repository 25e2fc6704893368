"""deploy/monitoring/README.md: what is here, how it was derived, and what is not watched."""

from __future__ import annotations

from nova.config import NovaConfig
from nova.observability import _files as f
from nova.observability._dashboard import DASHBOARD_FILE, DASHBOARD_PROVIDER_FILE, DATASOURCE_FILE
from nova.observability._gateway import GATEWAY_LATENCY_BUCKETS
from nova.observability._rules import MonitoredCandidate, RulePlan

__all__ = ["readme"]


def readme(
    config: NovaConfig,
    chosen: str,
    monitored: list[MonitoredCandidate],
    plan: RulePlan,
    panels: list[str],
) -> str:
    """The README nova writes next to the files (English: it is read by operators)."""
    lines = [
        "# Monitoring",
        "",
        "Written by `python -m nova alerts render` from nova.yaml (KPI catalogue, "
        "`monitoring:` settings) for the chosen candidate "
        f"`{chosen}`. Thresholds are changed in nova.yaml, not here: nova rewrites these files. "
        "A file nova wrote and a person edited is kept as `<name>.edited-<UTC time>` before it "
        f"is rewritten. Own rules go to `{f.CUSTOM_RULES_FILE}`: nova creates it once and never "
        "touches it, and Prometheus loads it with nova's rules.",
        "",
        "```sh",
        "python -m nova alerts render && python -m nova alerts check && python -m nova alerts test",
        "python -m nova alerts activate   # reload Prometheus and Alertmanager, record it",
        "python -m nova alerts status     # firing and pending alerts",
        "```",
        "",
        "Whether these rules are active is not stated here: `python -m nova alerts status` asks "
        "Prometheus, and `nova audit log` shows each `alerts.activate`.",
        "",
        "## Files",
        "",
        f"- `{f.PROMETHEUS_FILE}`: scrapes the gateway and the engines, loads the rules, sends "
        "alerts to Alertmanager.",
        f"- `{f.RECORDING_FILE}`, `{f.ALERTS_FILE}`: recording and alert rules.",
        f"- `{f.TESTS_FILE}`: `promtool test rules` unit tests (`nova alerts test`).",
        f"- `{f.ALERTMANAGER_FILE}`: one route and receiver per owner. Secrets are never "
        "written here: webhook tokens and SMTP passwords are file references "
        "(`credentials_file`, `auth_password_file`) to mounted secrets. An owner without a "
        "receiver in `monitoring.receivers` gets a placeholder URL "
        "(`http://alert-receiver.invalid/...`) that fails in Alertmanager's log until set.",
        f"- `{DASHBOARD_FILE}`, `{DASHBOARD_PROVIDER_FILE}`, `{DATASOURCE_FILE}`: the Grafana "
        "dashboard and its provisioning.",
        f"- `{f.RUNBOOK_FILE}`: one section per alert; every alert's `runbook_url` points there.",
        "",
        "Mounts (compose or Kubernetes): `prometheus/` at `/etc/prometheus` (the rule paths are "
        "relative to `prometheus.yml`; run Prometheus with `--web.enable-lifecycle` so "
        "`alerts activate` can reload it), `alertmanager/alertmanager.yml` as Alertmanager's "
        "`--config.file`, `grafana/provisioning` at `/etc/grafana/provisioning` and "
        "`grafana/dashboards` at `/var/lib/grafana/dashboards/nova`.",
        "",
        "## Monitored candidates",
        "",
    ]
    for m in monitored:
        role = "chosen" if m.candidate.id == chosen else m.candidate.role
        if m.engine is None:
            lines.append(
                f"- `{m.candidate.id}` ({role}): no engine metrics "
                f"({m.candidate.hosting}); watched through the gateway's metrics only."
            )
        else:
            lines.append(
                f"- `{m.candidate.id}` ({role}): engine profile `{m.engine.id}` "
                f"({m.engine.name}), scraped at `{m.target}`; metric names from "
                f"{m.engine.source}, read {m.engine.retrieved}."
            )
    lines += [
        "",
        "## Alerts",
        "",
        "SLO alerts are multi-window, multi-burn-rate alerts (Google SRE workbook): page at "
        "14.4x the error budget over 1 h and 5 min, and at 6x over 6 h and 30 min; ticket at 1x "
        "over 3 d and 6 h. Latency SLOs count the requests slower than the KPI target from the "
        "gateway's histogram buckets; the target must be a bucket edge "
        f"({', '.join(f'{e:g}' for e in GATEWAY_LATENCY_BUCKETS)} s).",
        "",
        "| Alert | Severity | Owner | KPI |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {a.name} | {a.labels['severity']} | {a.labels['owner']} | `{a.labels['kpi']}` |"
        for a in plan.alerts
    ]
    if plan.notes:
        lines += ["", "Left out:", ""] + [f"- {n}" for n in plan.notes]
    lines += ["", "## KPIs with `alert: true` that are not watched at run time", ""]
    lines += [f"- `{k}`: {reason}" for k, reason in plan.skipped] or ["- none"]
    lines += ["", "## Dashboard panels", ""] + [f"- {p}" for p in panels]
    return "\n".join(lines) + "\n"
