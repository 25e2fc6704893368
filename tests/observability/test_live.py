"""Real Prometheus and Alertmanager on 127.0.0.1: an alert fires, reaches a webhook through
Alertmanager and resolves; ``alerts activate`` reloads a running Prometheus."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nova.observability import activation_state, alert_status
from nova.providers import MockServerSettings, running_mock_server
from nova.store import open_store
from tests._services import alertmanager_server, free_port, prometheus_server
from tests.observability.conftest import get_json, loaded, monitoring_stack, query, wait_for

pytestmark = pytest.mark.integration


def chat(base_url: str, n: int) -> None:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Hallo Sophia"}]})
    for _ in range(n):
        req = urllib.request.Request(
            base_url + "/chat/completions",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=10).read()


def test_engine_down_fires_through_alertmanager_and_resolves(workspace: Path) -> None:
    engine_port = free_port()
    engine = f"127.0.0.1:{engine_port}"
    mock = MockServerSettings(port=engine_port, ttft_ms=2, itl_ms=1, output_tokens=4, model="m")
    cand = "llama31-70b-vllm"
    with monitoring_stack(
        workspace,
        gateway_target=engine,  # the gateway is not in this branch: the mock stands in
        engine_targets={cand: engine, "mixtral-8x7b-vllm": engine},
    ) as stack:
        prom = stack.prometheus
        cfg = loaded(workspace)[1]
        with running_mock_server(mock) as base_url:
            wait_for(
                "the engine target to be up",
                lambda: any(
                    r["value"][1] == "1"
                    for r in query(prom, f'up{{job="nova-engine",candidate="{cand}"}}')
                ),
            )
            chat(base_url, 5)
            # nova's engine recording rule reads the live vLLM-named counter
            wait_for(
                "nova:engine_tokens:rate5m from the live /metrics",
                lambda: any(
                    float(r["value"][1]) > 0
                    for r in query(
                        prom,
                        f'nova:engine_tokens:rate5m{{candidate="{cand}",gen_ai_token_type="output"}}',
                    )
                ),
            )
            assert not stack.notified("EngineDown", "firing", candidate=cand)
        # the engine is gone: up == 0 -> EngineDown -> Alertmanager -> our webhook
        wait_for(
            "EngineDown to reach the webhook",
            lambda: bool(stack.notified("EngineDown", "firing", candidate=cand)),
        )
        alert = stack.notified("EngineDown", "firing", candidate=cand)[0]
        assert alert["labels"]["owner"] == "Platform"
        assert alert["labels"]["severity"] == "page"
        assert alert["labels"]["kpi"] == "ops:engine-up"
        assert alert["annotations"]["summary"] == f"Inferenz-Engine von {cand} nicht erreichbar"
        assert alert["annotations"]["runbook_url"] == "deploy/monitoring/RUNBOOK.md#enginedown"
        firing = [a for a in alert_status(cfg, prom) if a.state == "firing"]
        assert ("EngineDown", cand, "Platform") in {(a.name, a.candidate, a.owner) for a in firing}
        with running_mock_server(mock):
            wait_for(
                "the resolution to reach the webhook",
                lambda: bool(stack.notified("EngineDown", "resolved", candidate=cand)),
            )


def test_activate_reloads_prometheus_and_records_it(
    workspace: Path, run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    mon = workspace / "deploy/monitoring"
    prom_file = mon / "prometheus/prometheus.yml"
    am_file = mon / "alertmanager/alertmanager.yml"
    prom_file.parent.mkdir(parents=True)
    am_file.parent.mkdir(parents=True)
    prom_file.write_text("global: {scrape_interval: 15s}\n")
    am_file.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    other = tmp_path / "other.yml"
    other.write_text("global: {scrape_interval: 15s}\n")
    other_am = tmp_path / "other-am.yml"
    other_am.write_text(am_file.read_text())
    ws, cfg = loaded(workspace)
    with (
        alertmanager_server(am_file) as am,
        alertmanager_server(other_am) as wrong_am,
        prometheus_server(prom_file) as prom,
        prometheus_server(other) as wrong_prom,
    ):
        assert get_json(f"{prom}/api/v1/rules")["data"]["groups"] == []
        r = run_cli("--workspace", str(workspace), "alerts", "status", "--prometheus-url", prom)
        assert r.code == 0 and "never activated" in r.out

        # a Prometheus that reads another config file: reloaded, but no nova rules -> failure
        r = run_cli(
            "--workspace",
            str(workspace),
            "alerts",
            "activate",
            "--prometheus-url",
            wrong_prom,
            "--alertmanager-url",
            am,
        )
        assert r.code == 1
        assert "does not serve nova's rule groups" in r.err
        # an Alertmanager that reads another file: reloaded, but not nova's receivers
        r = run_cli(
            "--workspace", str(workspace), "alerts", "activate",
            "--prometheus-url", prom, "--alertmanager-url", wrong_am,
        )  # fmt: skip
        assert r.code == 1
        assert "does not run nova's configuration (no receiver owner-aura)" in r.err
        # unreachable -> one line, nothing recorded
        dead = f"http://127.0.0.1:{free_port()}"
        r = run_cli(
            "--workspace",
            str(workspace),
            "alerts",
            "activate",
            "--prometheus-url",
            dead,
            "--alertmanager-url",
            am,
        )
        assert r.code == 1
        assert r.err.startswith(f"error: Prometheus is unreachable at {dead}/-/reload")
        assert activation_state(ws, cfg) is None

        csv = workspace / "Agenten_Aufgaben_Uebersicht.csv"
        before = csv.read_bytes()
        assert before.count(b"Offen,SOPHIA-09;SOPHIA-19,deploy/monitoring/") == 1  # SOPHIA-21
        r = run_cli(
            "--workspace", str(workspace), "alerts", "activate",
            "--prometheus-url", prom, "--alertmanager-url", am, "--by", "platform-oncall",
        )  # fmt: skip
        assert r.code == 0, r.err
        assert "activated" in r.out and "for llama31-70b-vllm" in r.out
        assert "task list: SOPHIA-09, SOPHIA-21 set to Abgeschlossen" in r.out
        after = csv.read_bytes()
        assert after.count(b",Abgeschlossen,") == 2
        assert after.replace(b",Abgeschlossen,", b",Offen,") == before  # nothing else changed
        groups = {g["name"] for g in get_json(f"{prom}/api/v1/rules")["data"]["groups"]}
        assert {"nova-slo-error-rate", "nova-slo-ttft-p95", "nova-engine", "nova-gateway"} <= groups
        am_conf = get_json(f"{am}/api/v2/status")["config"]["original"]
        assert "owner-aura" in am_conf and "owner-security" in am_conf
        # the hand-written files were kept before nova replaced them
        assert len(list(prom_file.parent.glob("prometheus.yml.edited-*"))) == 1

        with open_store(ws, cfg) as store:
            entries = [e for e in store.audit_entries() if e.action == "alerts.activate"]
        assert [(e.subject, e.actor) for e in entries] == [("llama31-70b-vllm", "platform-oncall")]
        state = activation_state(ws, cfg)
        assert state is not None and state.files_unchanged and state.candidate == "llama31-70b-vllm"

        r = run_cli(
            "--workspace", str(workspace), "alerts", "status", "--prometheus-url", prom, "--json"
        )
        assert r.code == 0
        data = json.loads(r.out)
        assert data["activation"]["audit_seq"] == entries[0].seq
        assert isinstance(data["alerts"], list)

        # a later edit of the files shows in the state
        (mon / "RUNBOOK.md").write_text("changed\n")
        state = activation_state(ws, cfg)
        assert state is not None and not state.files_unchanged
