"""Monitoring for the chosen model: Prometheus recording and alert rules from the KPI catalogue
(multi-window, multi-burn-rate SLO alerts), engine profiles for the metric names of vLLM, TGI,
Triton/TensorRT-LLM and llama.cpp, the Alertmanager configuration, Grafana dashboards, and the
``nova alerts`` workflow: render, check (promtool, amtool), test (promtool unit tests),
activate (reload, audit log), status."""

from nova.observability._activate import (
    ACTIVATE_ACTION,
    ActivationResult,
    ActivationState,
    AlertStatus,
    activate_monitoring,
    activation_state,
    alert_status,
)
from nova.observability._engines import ENGINE_PROFILES, EngineProfile, Selector, engine_for
from nova.observability._gateway import (
    GATEWAY_LATENCY_BUCKETS,
    GATEWAY_METRICS,
    GatewayMetric,
    le_matcher,
)
from nova.observability._promql import metric_names
from nova.observability._render import (
    RenderResult,
    chosen_candidate,
    monitored_candidates,
    plan_monitoring,
    render_monitoring,
)
from nova.observability._rules import BURN_TIERS, AlertSpec, MonitoredCandidate, RulePlan
from nova.observability._tools import (
    INSTALL_HINT,
    MonitoringError,
    ToolResult,
    check_monitoring,
    run_rule_tests,
)

__all__ = [
    "ACTIVATE_ACTION",
    "BURN_TIERS",
    "ENGINE_PROFILES",
    "GATEWAY_LATENCY_BUCKETS",
    "GATEWAY_METRICS",
    "INSTALL_HINT",
    "ActivationResult",
    "ActivationState",
    "AlertSpec",
    "AlertStatus",
    "EngineProfile",
    "GatewayMetric",
    "MonitoredCandidate",
    "MonitoringError",
    "RenderResult",
    "RulePlan",
    "Selector",
    "ToolResult",
    "activate_monitoring",
    "activation_state",
    "alert_status",
    "check_monitoring",
    "chosen_candidate",
    "engine_for",
    "le_matcher",
    "metric_names",
    "monitored_candidates",
    "plan_monitoring",
    "render_monitoring",
    "run_rule_tests",
]
