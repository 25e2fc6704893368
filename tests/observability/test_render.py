"""Rendering deploy/monitoring/ from nova.yaml (no Prometheus binaries needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from nova.config import init_workspace
from nova.errors import ConfigError, NovaError
from nova.observability import (
    GATEWAY_LATENCY_BUCKETS,
    GATEWAY_METRICS,
    activation_state,
    engine_for,
    metric_names,
    render_monitoring,
)
from nova.store import open_store
from tests.observability.conftest import alerts_by_name, loaded, set_monitoring

MON = Path("deploy/monitoring")


def test_render_writes_every_file_and_burn_rate_tiers(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    res = render_monitoring(ws, cfg)
    assert res.candidate == "llama31-70b-vllm"  # role primary, no decision recorded yet
    for rel in (
        "prometheus/prometheus.yml",
        "prometheus/rules/nova-recording.yml",
        "prometheus/rules/nova-alerts.yml",
        "prometheus/rules/custom_rules.yml",
        "prometheus/tests/nova-alerts.test.yml",
        "alertmanager/alertmanager.yml",
        "grafana/dashboards/nova-llm.json",
        "grafana/provisioning/dashboards/nova.yml",
        "grafana/provisioning/datasources/prometheus.yml",
        "RUNBOOK.md",
        "README.md",
    ):
        assert (workspace / MON / rel).is_file(), rel
    alerts = alerts_by_name(workspace)
    # error-rate KPI: 1 % budget -> 14.4 %, 6 %, 1 % error ratio over the paired windows
    page1h = alerts["ErrorRateBurnRatePage1h"]
    assert page1h["expr"] == (
        'nova:kpi_bad:ratio_rate1h{kpi="error-rate"} > 0.144\nand\n'
        'nova:kpi_bad:ratio_rate5m{kpi="error-rate"} > 0.144'
    )
    assert 'ratio_rate6h{kpi="error-rate"} > 0.06' in alerts["ErrorRateBurnRatePage6h"]["expr"]
    assert 'ratio_rate3d{kpi="error-rate"} > 0.01' in alerts["ErrorRateBurnRateTicket3d"]["expr"]
    assert 'ratio_rate30m{kpi="error-rate"} > 0.06' in alerts["ErrorRateBurnRatePage6h"]["expr"]
    assert alerts["ErrorRateBurnRateTicket3d"]["labels"]["severity"] == "ticket"
    # ttft p95 1500 ms: 5 % budget -> 72 % of requests slower than 1.5 s
    assert "> 0.72" in alerts["TtftP95BurnRatePage1h"]["expr"]
    # tpot p50: a 50 % budget; 14.4x and 6x reach 100 % and cannot fire: only the ticket
    assert "TpotP50BurnRateTicket3d" in alerts
    assert "TpotP50BurnRatePage1h" not in alerts and "TpotP50BurnRatePage6h" not in alerts
    assert any("tpot-p50: the 14.4x tier" in n for n in res.plan.notes)
    # alert: false KPIs never become alerts; alert: true ones nova cannot watch are listed
    assert not any(a["labels"]["kpi"] == "pass-rate" for a in alerts.values())
    assert "Cost1kConvAboveTarget" in alerts
    # a histogram without a bucket at the target makes the SLO alerts blind: that alerts too
    bucket = alerts["TtftP95BucketMissing"]
    assert bucket["labels"] == {"severity": "ticket", "owner": "Platform", "kpi": "ttft-p95"}
    assert 'le=~"1\\\\.5"' in bucket["expr"] and "unless" in bucket["expr"]
    assert {"E2elP95BucketMissing", "TpotP50BucketMissing"} <= set(alerts)
    assert set(alerts) >= {
        "EngineDown", "GatewayDown", "NoTraffic", "QueueBacklog", "KvCacheSaturation",
        "EnginePreemptions", "FallbackRateHigh", "GuardrailBlockSpike", "BudgetRejections",
    }  # fmt: skip


def test_recording_rules_read_the_gateway_metrics(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    doc = yaml.safe_load((workspace / MON / "prometheus/rules/nova-recording.yml").read_text())
    rules = {(r["record"], r.get("labels", {}).get("kpi")): r["expr"] for g in doc["groups"]
             for r in g["rules"]}  # fmt: skip
    errors = rules[("nova:kpi_bad:ratio_rate5m", "error-rate")]
    # 5xx of routed requests only: rejections before routing carry candidate=""
    assert 'nova_gateway_requests_total{candidate!="",code=~"5.."}[5m]' in errors
    e2e = rules[("nova:kpi_bad:ratio_rate1h", "e2el-p95")]
    # successful requests only, and the 12 s target as Go ("12") or Python ("12.0") writes it
    assert 'gen_ai_server_request_duration_seconds_bucket{le=~"12(\\\\.0)?",error_type=""}' in e2e
    ttft = rules[("nova:kpi_bad:ratio_rate3d", "ttft-p95")]
    assert 'gen_ai_server_time_to_first_token_seconds_bucket{le=~"1\\\\.5"}[3d]' in ttft
    eng = {r: e for (r, _k), e in rules.items() if r.startswith("nova:engine")}
    assert eng["nova:engine_kv_cache_usage:ratio"] == (
        'max by (candidate) (vllm:kv_cache_usage_perc{job="nova-engine",nova_engine="vllm"})'
    )


def test_every_alert_has_kpi_owner_severity_language_and_a_runbook_anchor(
    workspace: Path,
) -> None:
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    runbook = (workspace / MON / "RUNBOOK.md").read_text("utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', runbook))
    alerts = alerts_by_name(workspace)
    for name, rule in alerts.items():
        labels, ann = rule["labels"], rule["annotations"]
        assert labels["owner"] in {"Aura", "Security", "Platform"}, name
        assert labels["severity"] in {"page", "ticket"}, name
        assert labels["kpi"], name
        url = ann["runbook_url"]
        assert url.startswith("deploy/monitoring/RUNBOOK.md#"), name
        assert url.split("#", 1)[1] in anchors, name
        assert ann["summary"] and ann["description"], name
    # German workspace: German summaries
    assert (
        "Fehlerbudget brennt 14,4-fach (1 h und 5 min)"
        in alerts["ErrorRateBurnRatePage1h"]["annotations"]["summary"]
    )
    assert alerts["GuardrailBlockSpike"]["labels"]["owner"] == "Security"


def test_english_workspace_gets_english_summaries(tmp_path: Path) -> None:
    root = tmp_path / "ws-en"
    init_workspace(root, language="en")
    ws, cfg = loaded(root)
    render_monitoring(ws, cfg)
    summary = alerts_by_name(root)["ErrorRateBurnRatePage1h"]["annotations"]["summary"]
    assert summary == (
        "Error rate: error budget burning at 14.4x (1 h and 5 min) on {{ $labels.candidate }}"
    )


def test_managed_candidate_is_watched_through_the_gateway_only(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    res = render_monitoring(ws, cfg, candidate="gpt4o-azure")
    prom = yaml.safe_load((workspace / MON / "prometheus/prometheus.yml").read_text())
    engine_jobs = [j for j in prom["scrape_configs"] if j["job_name"] == "nova-engine"]
    # the chosen managed candidate has no engine; the self-hosted fallback still has one
    assert [c["labels"]["candidate"] for c in engine_jobs[0]["static_configs"]] == [
        "mixtral-8x7b-vllm"
    ]
    assert res.monitored[0].engine is None
    readme = (workspace / MON / "README.md").read_text()
    assert "`gpt4o-azure` (chosen): no engine metrics (managed)" in readme


def test_gateway_only_when_no_engine_at_all(workspace: Path) -> None:
    text = (workspace / "nova.yaml").read_text()
    (workspace / "nova.yaml").write_text(
        text.replace("    role: fallback\n", "    role: candidate\n")
    )
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg, candidate="gpt4o-azure")
    prom = yaml.safe_load((workspace / MON / "prometheus/prometheus.yml").read_text())
    assert [j["job_name"] for j in prom["scrape_configs"]] == ["nova-gateway"]
    alerts = alerts_by_name(workspace)
    assert "EngineDown" not in alerts and "QueueBacklog" not in alerts
    assert "ErrorRateBurnRatePage1h" in alerts


def test_decision_in_the_audit_log_chooses_the_candidate(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    with open_store(ws, cfg) as store:
        store.audit("anna", "decision.record", "mixtral-8x7b-vllm", {})
    assert render_monitoring(ws, cfg).candidate == "mixtral-8x7b-vllm"


def test_unknown_candidate_is_an_error(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    with pytest.raises(Exception, match="no candidate 'nope'"):
        render_monitoring(ws, cfg, candidate="nope")


def test_a_person_s_edits_are_kept_and_custom_rules_never_touched(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    alerts_file = workspace / MON / "prometheus/rules/nova-alerts.yml"
    custom = workspace / MON / "prometheus/rules/custom_rules.yml"
    original = alerts_file.read_bytes()
    alerts_file.write_bytes(original + b"# tuned by Platform\n")
    custom.write_text("groups:\n- name: mine\n  rules: []\n")
    res = render_monitoring(ws, cfg)
    assert alerts_file.read_bytes() == original
    assert len(res.kept) == 1 and res.kept[0].name.startswith("nova-alerts.yml.edited-")
    assert res.kept[0].read_bytes().endswith(b"# tuned by Platform\n")
    assert custom.read_text() == "groups:\n- name: mine\n  rules: []\n"
    # a second render changes nothing and keeps nothing more
    again = render_monitoring(ws, cfg)
    assert again.written == [] and again.kept == []


def test_a_file_nova_did_not_write_is_kept_too(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    own = workspace / MON / "alertmanager/alertmanager.yml"
    own.parent.mkdir(parents=True)
    own.write_text("route: {receiver: ours}\nreceivers: [{name: ours}]\n")
    res = render_monitoring(ws, cfg)
    assert [p.read_text() for p in res.kept] == [
        "route: {receiver: ours}\nreceivers: [{name: ours}]\n"
    ]
    # the README nova init shipped is replaced without a copy
    assert not list((workspace / MON).glob("README.md.edited-*"))


def test_kpi_target_that_is_not_a_bucket_edge_is_rejected(workspace: Path) -> None:
    text = (workspace / "nova.yaml").read_text()
    (workspace / "nova.yaml").write_text(text.replace("target: 1500,", "target: 1700,"))
    ws, cfg = loaded(workspace)
    with pytest.raises(ConfigError) as err:
        render_monitoring(ws, cfg)
    assert "kpis[0].target: 1700 ms is not a bucket edge" in str(err.value)


def test_kpi_targets_of_the_template_are_bucket_edges() -> None:
    for seconds in (0.08, 1.5, 2.0, 12.0, 20.0):  # TPOT, TTFT, demo TTFT, E2E, demo E2E
        assert seconds in GATEWAY_LATENCY_BUCKETS
    # a superset of the edges the gateway stream chose (latency 1 ms..60 s, per token 1 ms..1.2 s)
    gateway_latency = (
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
        60,
    )
    gateway_per_token = (0.001, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.2)
    assert set(gateway_latency) | set(gateway_per_token) <= set(GATEWAY_LATENCY_BUCKETS)
    assert list(GATEWAY_LATENCY_BUCKETS) == sorted(set(GATEWAY_LATENCY_BUCKETS))


def test_alertmanager_routes_per_owner_and_secrets_by_file(workspace: Path) -> None:
    set_monitoring(
        workspace,
        "  receivers:\n"
        "    Aura: {webhook_url: 'https://hooks.example/aura',\n"
        "           webhook_token_file: /run/secrets/aura}\n"
        "    Security: {email_to: sec@example.invalid, smarthost: 'smtp.example:587',\n"
        "               smtp_username: nova, smtp_password_file: /run/secrets/smtp}\n",
    )
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    am = yaml.safe_load((workspace / MON / "alertmanager/alertmanager.yml").read_text())
    routes = {r["matchers"][0]: r["receiver"] for r in am["route"]["routes"]}
    assert routes == {
        'owner="Aura"': "owner-aura",
        'owner="Platform"': "owner-platform",
        'owner="Security"': "owner-security",
    }
    recv = {r["name"]: r for r in am["receivers"]}
    hook = recv["owner-aura"]["webhook_configs"][0]
    assert hook["http_config"]["authorization"]["credentials_file"] == "/run/secrets/aura"
    assert recv["owner-security"]["email_configs"][0]["auth_password_file"] == "/run/secrets/smtp"
    assert recv["owner-platform"]["webhook_configs"][0]["url"] == (
        "http://alert-receiver.invalid/platform"
    )


def test_webhook_url_with_credentials_is_refused(workspace: Path) -> None:
    set_monitoring(
        workspace, "  receivers:\n    Aura: {webhook_url: 'https://u:p@hooks.example/x'}\n"
    )
    with pytest.raises(ConfigError):
        loaded(workspace)


def test_engine_detection() -> None:
    root_cfg = _template_config()
    ms = root_cfg.monitoring
    found = {c.id: (p.id if (p := engine_for(c, ms)) else None) for c in root_cfg.candidates}
    assert found == {
        "llama31-70b-vllm": "vllm",
        "gpt4o-azure": None,
        "llama31-70b-bedrock": None,
        "mixtral-8x7b-vllm": "vllm",
        "judge-gpt4o": None,
        "qwen25-05b-local": "llamacpp",
        "smollm2-360m-local": "llamacpp",
        "llama32-1b-local": "llamacpp",
    }
    explicit = root_cfg.model_copy(
        update={"monitoring": ms.model_copy(update={"engines": {"llama31-70b-vllm": "vllm-v0"}})}
    )
    prof = engine_for(explicit.candidate("llama31-70b-vllm"), explicit.monitoring)
    assert prof is not None and prof.kv_cache_usage is not None
    assert prof.kv_cache_usage.metric == "vllm:gpu_cache_usage_perc"
    bad = ms.model_copy(update={"engines": {"llama31-70b-vllm": "sglang"}})
    with pytest.raises(ConfigError, match="unknown engine profile 'sglang'"):
        engine_for(root_cfg.candidate("llama31-70b-vllm"), bad)


def _template_config():  # type: ignore[no-untyped-def]
    import tempfile

    root = Path(tempfile.mkdtemp()) / "ws"
    init_workspace(root)
    return loaded(root)[1]


def test_metric_names() -> None:
    expr = (
        'sum by (candidate, le) (rate(a_bucket{le=~"1\\\\.5",x!="by(y)"}[5m])) / ignoring(z) '
        "b:c offset 5m > 1e3 * 0.5 and on() (vector(0) or absent(d_total))"
    )
    assert metric_names(expr) == {"a_bucket", "b:c", "d_total"}


def test_dashboard_reads_only_known_series(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    dash = json.loads((workspace / MON / "grafana/dashboards/nova-llm.json").read_text())
    titles = [p["title"] for p in dash["panels"]]
    for want in ("TTFT p50 / p95", "TPOT p50 / p95", "Cost per hour (USD)", "KV-cache use",
                 "Engine queue depth (waiting / running)", "Fallbacks per second",
                 "Guardrail blocks per second"):  # fmt: skip
        assert want in titles
    rec = yaml.safe_load((workspace / MON / "prometheus/rules/nova-recording.yml").read_text())
    recorded = {r["record"] for g in rec["groups"] for r in g["rules"]}
    gateway = _gateway_series()
    for panel in dash["panels"]:
        for t in panel["targets"]:
            unknown = metric_names(t["expr"]) - gateway - recorded - {"up"}
            assert not unknown, (panel["title"], unknown)


def _gateway_series() -> set[str]:
    out = set()
    for name, m in GATEWAY_METRICS.items():
        out |= (
            {f"{name}_bucket", f"{name}_count", f"{name}_sum"} if m.kind == "histogram" else {name}
        )
    return out


def test_gateway_rules_use_only_gateway_metrics(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    rec = yaml.safe_load((workspace / MON / "prometheus/rules/nova-recording.yml").read_text())
    recorded = {r["record"] for g in rec["groups"] for r in g["rules"]}
    gateway = _gateway_series()
    for g in rec["groups"]:
        if g["name"].startswith("nova-slo-"):
            for r in g["rules"]:
                assert metric_names(r["expr"]) <= gateway, r["record"]
    for name, rule in alerts_by_name(workspace).items():
        assert metric_names(rule["expr"]) - gateway - recorded - {"up"} == set(), name


def test_activation_state_is_none_until_activated(workspace: Path) -> None:
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    assert activation_state(ws, cfg) is None


def test_no_secret_reaches_the_monitoring_files(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {"SOPHIA_VLLM_API_KEY": "sk-vllm-1b2c3d4e5f", "AZURE_OPENAI_API_KEY": "az-9f8e7d6c5b"}
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    for path in (workspace / MON).rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8")
            for value in secrets.values():
                assert value not in text, path


def test_without_a_chosen_candidate_render_says_what_to_do(workspace: Path) -> None:
    text = (workspace / "nova.yaml").read_text()
    (workspace / "nova.yaml").write_text(text.replace("role: primary", "role: candidate"))
    ws, cfg = loaded(workspace)
    with pytest.raises(NovaError, match=r"no candidate chosen yet: record a decision"):
        render_monitoring(ws, cfg)
    assert not (workspace / MON / "prometheus").exists()
