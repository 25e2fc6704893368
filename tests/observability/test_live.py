"""Real Prometheus and Alertmanager on 127.0.0.1: an alert fires, reaches a webhook through
Alertmanager and resolves; ``alerts activate`` reloads a running Prometheus."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from nova.observability import activation_state, render_monitoring
from nova.providers import MockServerSettings, running_mock_server
from nova.store import open_store
from tests._services import alertmanager_server, free_port, prometheus_server
from tests.observability.conftest import loaded, set_monitoring

pytestmark = pytest.mark.integration


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An aiohttp server that records every Alertmanager webhook payload."""
    received: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    port = free_port()

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    q = urllib.parse.quote(expr)
    result: list[dict[str, Any]] = get_json(f"{prom}/api/v1/query?query={q}")["data"]["result"]
    return result


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def chat(base_url: str, n: int) -> None:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Hallo Sophia"}]})
    for _ in range(n):
        req = urllib.request.Request(
            base_url + "/chat/completions",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=10).read()


def _notified(received: list[dict[str, Any]], status: str, candidate: str) -> list[dict[str, Any]]:
    return [
        a
        for payload in received
        for a in payload["alerts"]
        if a["status"] == status
        and a["labels"]["alertname"] == "EngineDown"
        and a["labels"].get("candidate") == candidate
    ]


def test_engine_down_fires_through_alertmanager_and_resolves(workspace: Path) -> None:
    engine_port, am_port = free_port(), free_port()
    engine = f"127.0.0.1:{engine_port}"
    mock = MockServerSettings(port=engine_port, ttft_ms=2, itl_ms=1, output_tokens=4, model="m")
    with webhook_receiver() as (hook_url, received):
        set_monitoring(
            workspace,
            f"  alertmanager_url: http://127.0.0.1:{am_port}\n"
            f"  gateway_target: '{engine}'\n"  # the gateway is not in this branch: stand-in
            f"  engine_targets: {{llama31-70b-vllm: '{engine}', mixtral-8x7b-vllm: '{engine}'}}\n"
            "  scrape_interval: 1s\n  evaluation_interval: 1s\n  engine_down_for: 1s\n"
            "  group_wait: 1s\n  group_interval: 1s\n"
            f"  receivers: {{Platform: {{webhook_url: '{hook_url}'}}}}\n",
        )
        ws, cfg = loaded(workspace)
        render_monitoring(ws, cfg)
        mon = workspace / "deploy/monitoring"
        with (
            alertmanager_server(mon / "alertmanager/alertmanager.yml", port=am_port),
            prometheus_server(mon / "prometheus/prometheus.yml") as prom,
        ):
            with running_mock_server(mock) as base_url:
                wait_for(
                    "the engine target to be up",
                    lambda: any(
                        r["value"][1] == "1"
                        for r in query(prom, 'up{job="nova-engine",candidate="llama31-70b-vllm"}')
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
                            'nova:engine_tokens:rate5m{candidate="llama31-70b-vllm",'
                            'gen_ai_token_type="output"}',
                        )
                    ),
                )
                assert not _notified(received, "firing", "llama31-70b-vllm")
            # the engine is gone: up == 0 -> EngineDown -> Alertmanager -> our webhook
            wait_for(
                "EngineDown to reach the webhook",
                lambda: bool(_notified(received, "firing", "llama31-70b-vllm")),
            )
            alert = _notified(received, "firing", "llama31-70b-vllm")[0]
            assert alert["labels"]["owner"] == "Platform"
            assert alert["labels"]["severity"] == "page"
            assert alert["labels"]["kpi"] == "ops:engine-up"
            assert alert["annotations"]["summary"] == (
                "Inferenz-Engine von llama31-70b-vllm nicht erreichbar"
            )
            assert alert["annotations"]["runbook_url"] == (
                "deploy/monitoring/RUNBOOK.md#enginedown"
            )
            with running_mock_server(mock):
                wait_for(
                    "the resolution to reach the webhook",
                    lambda: bool(_notified(received, "resolved", "llama31-70b-vllm")),
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

        r = run_cli(
            "--workspace",
            str(workspace),
            "alerts",
            "activate",
            "--prometheus-url",
            prom,
            "--alertmanager-url",
            am,
            "--by",
            "platform-oncall",
        )
        assert r.code == 0, r.err
        assert "activated" in r.out and "for llama31-70b-vllm" in r.out
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
