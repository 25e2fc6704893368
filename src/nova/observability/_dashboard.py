"""The Grafana dashboard (JSON) and its provisioning files."""

from __future__ import annotations

from typing import Any

from nova.config import NovaConfig
from nova.observability import _gateway as gw
from nova.observability._rules import GATEWAY_JOB, MonitoredCandidate

__all__ = [
    "DASHBOARD_FILE",
    "DASHBOARD_PROVIDER_FILE",
    "DASHBOARD_UID",
    "DATASOURCE_FILE",
    "dashboard",
    "dashboard_provider",
    "datasource",
    "panel_listing",
]

DASHBOARD_FILE = "grafana/dashboards/nova-llm.json"
DASHBOARD_PROVIDER_FILE = "grafana/provisioning/dashboards/nova.yml"
DATASOURCE_FILE = "grafana/provisioning/datasources/prometheus.yml"
DASHBOARD_UID = "nova-llm"
_DS = {"type": "prometheus", "uid": "nova-prometheus"}


def _q(metric: str, by: str = "candidate", quantile: float = 0.95, **extra: str) -> str:
    sel = ",".join(f'{k}="{v}"' for k, v in extra.items())
    sel = f"{{{sel}}}" if sel else ""
    return f"histogram_quantile({quantile}, sum by ({by}, le) (rate({metric}_bucket{sel}[5m])))"


def _panels(engines: bool) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(title, unit, [(legend, expr)]) of every panel, in order."""
    routed = f'{gw.REQUESTS}{{candidate!=""}}'
    out = [
        ("TTFT p50 / p95", "s", [
            ("p50 {{candidate}}", _q(gw.TTFT, quantile=0.5)),
            ("p95 {{candidate}}", _q(gw.TTFT)),
        ]),
        ("TPOT p50 / p95", "s", [
            ("p50 {{candidate}}", _q(gw.TPOT, quantile=0.5)),
            ("p95 {{candidate}}", _q(gw.TPOT)),
        ]),
        ("End-to-end latency p50 / p95 (successful requests)", "s", [
            ("p50 {{candidate}}", _q(gw.E2E, quantile=0.5, error_type="")),
            ("p95 {{candidate}}", _q(gw.E2E, error_type="")),
        ]),
        ("Requests per second by status", "reqps", [
            ("{{candidate}} {{code}}", f"sum by (candidate, code) (rate({gw.REQUESTS}[5m]))"),
        ]),
        ("Error ratio (HTTP 5xx of routed requests)", "percentunit", [
            ("{{candidate}}",
             f'sum by (candidate) (rate({gw.REQUESTS}{{candidate!="",code=~"5.."}}[5m]))'
             f"\n/\nsum by (candidate) (rate({routed}[5m]))"),
        ]),
        ("Tokens per second (input / output)", "short", [
            ("{{candidate}} {{gen_ai_token_type}}",
             f"sum by (candidate, gen_ai_token_type) (rate({gw.TOKENS}_sum[5m]))"),
        ]),
        ("Cost per hour (USD)", "currencyUSD", [
            ("{{candidate}}", f"sum by (candidate) (rate({gw.COST}[1h])) * 3600"),
        ]),
        ("Fallbacks per second", "reqps", [
            ("{{from_candidate}} -> {{to_candidate}} ({{reason}})",
             f"sum by (from_candidate, to_candidate, reason) (rate({gw.FALLBACKS}[5m]))"),
        ]),
        ("Guardrail blocks per second", "short", [
            ("{{rail}} ({{stage}})", f"sum by (rail, stage) (rate({gw.RAIL_BLOCKS}[5m]))"),
        ]),
        ("Budget and rate-limit rejections per second", "reqps", [
            ("{{kind}}", f"sum by (kind) (rate({gw.BUDGET_REJECTIONS}[5m]))"),
        ]),
        ("Gateway overhead p95", "s", [
            ("p95", f"histogram_quantile(0.95, sum by (le) (rate({gw.OVERHEAD}_bucket[5m])))"),
        ]),
        ("Targets up", "short", [
            ("{{job}} {{candidate}}", 'up{job=~"nova-.*"}'),
        ]),
    ]  # fmt: skip
    if engines:
        out += [
            ("Engine queue depth (waiting / running)", "short", [
                ("waiting {{candidate}}", "nova:engine_requests_waiting"),
                ("running {{candidate}}", "nova:engine_requests_running"),
            ]),
            ("KV-cache use", "percentunit", [
                ("{{candidate}}", "nova:engine_kv_cache_usage:ratio"),
            ]),
            ("Engine preemptions per second", "short", [
                ("{{candidate}}", "nova:engine_preemptions:rate5m"),
            ]),
        ]  # fmt: skip
    return out


def panel_listing(monitored: list[MonitoredCandidate]) -> list[str]:
    """Panel titles, for the README."""
    return [t for t, _u, _q in _panels(any(m.engine for m in monitored))]


def dashboard(config: NovaConfig, monitored: list[MonitoredCandidate]) -> dict[str, Any]:
    """The dashboard JSON (Grafana schema 39), two panels a row."""
    panels: list[dict[str, Any]] = []
    for i, (title, unit, queries) in enumerate(_panels(any(m.engine for m in monitored))):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": _DS,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + j), "datasource": _DS, "expr": e, "legendFormat": lg}
                    for j, (lg, e) in enumerate(queries)
                ],
            }
        )
    return {
        "uid": DASHBOARD_UID,
        "title": f"{config.name}: LLM serving (nova)",
        "tags": ["nova", "llm"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": []},
        "annotations": {"list": []},
        "description": f"Gateway job {GATEWAY_JOB}; written by python -m nova alerts render.",
        "panels": panels,
    }


def dashboard_provider() -> dict[str, Any]:
    """Grafana provisioning: load dashboards from the mounted folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "nova",
                "folder": "nova",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "options": {"path": "/var/lib/grafana/dashboards/nova"},
            }
        ],
    }


def datasource(config: NovaConfig) -> dict[str, Any]:
    """Grafana provisioning: the Prometheus data source the dashboard uses."""
    ms = config.monitoring
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus (nova)",
                "uid": _DS["uid"],
                "type": "prometheus",
                "access": "proxy",
                "url": ms.grafana_datasource_url or ms.prometheus_url,
                "isDefault": True,
            }
        ],
    }
