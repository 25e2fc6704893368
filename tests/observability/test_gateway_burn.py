"""Issue 14's done-criterion, end to end on 127.0.0.1: errors through nova's gateway make the
fast-burn availability alert fire and reach a webhook through a real Alertmanager, and the
alert resolves once the model answers again.

Real parts: nova's mock server as the model, the gateway (in-process, as ``nova serve`` builds
it) with a key from the workspace's store, and Prometheus + Alertmanager running the rules that
``nova alerts render`` writes from the KPI catalogue. Test-only settings live in nova.yaml's
``monitoring:`` block (1 s scrapes and evaluations, ``burn_page_for: 1s`` instead of 2 min);
the rule expressions and their 5 min / 1 h windows are the product's.

Why resolution is quick without weakening the rule: the alert reads the *ratio* of 5xx to
routed requests over 1 h and 5 min. Once the model answers again, good requests dilute that
ratio; with 20 errors and 400 good requests it is 20 / 420 = 4.8 %, below 14.4 x the 1 %
budget (14.4 %), so the short window resets within seconds, as the SRE workbook intends, and
the test need not wait for the errors to age out of the 5 min window.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nova.config import Workspace, load_config
from nova.gateway import create_key, running_gateway
from nova.providers import MockServerSettings, running_mock_server
from nova.store import open_store
from tests._services import free_port
from tests.gateway.conftest import request
from tests.observability.conftest import monitoring_stack, query, wait_for

pytestmark = pytest.mark.integration

CAND = "primary-m"
ALERT = "ErrorRateBurnRatePage1h"
ERRORS = 20
GOOD = 400


def write_workspace(root: Path, model_url: str) -> None:
    """nova.yaml with one primary candidate on the mock server, no fallback (so a failure
    reaches the client as a 5xx), and the shipped catalogue's error-rate KPI."""
    shipped = (root / "nova.yaml").read_text("utf-8")
    kpi = next(line for line in shipped.splitlines() if "{id: error-rate," in line)
    assert "metric: error_rate" in kpi and "target: 0.01," in kpi and "alert: false" not in kpi
    (root / "nova.yaml").write_text(
        "version: 1\nname: Sophia\n"
        "candidates:\n"
        f"  - id: {CAND}\n"
        "    model: openai/nova-mock\n"
        "    role: primary\n"
        "    hosting: managed\n"  # no engine to scrape: the gateway's metrics only
        f"    provider: {{base_url: '{model_url}', max_retries: 0, timeout_s: 5}}\n"
        f"kpis:\n{kpi}\n"
        "monitoring:\n  scrape_interval: 15s\n",  # monitoring_stack() replaces this block
        "utf-8",
    )


def send(url: str, key: str, n: int, *, pause_s: float = 0.0) -> list[int]:
    """``n`` chat requests through the gateway, one after the other; their HTTP statuses."""
    body = {"model": CAND, "messages": [{"role": "user", "content": "Hallo Sophia"}]}
    codes = []
    for _ in range(n):
        codes.append(request(url, "POST", "/v1/chat/completions", json_body=body, key=key).status)
        time.sleep(pause_s)
    return codes


def bad_ratio_5m(prom: str) -> float:
    """The error ratio over 5 min that nova's recording rule computes for the candidate."""
    rows = query(prom, f'nova:kpi_bad:ratio_rate5m{{kpi="error-rate",candidate="{CAND}"}}')
    assert len(rows) == 1, rows
    return float(rows[0]["value"][1])


def test_gateway_errors_page_through_alertmanager_and_resolve(workspace: Path) -> None:
    model_port = free_port()
    write_workspace(workspace, f"http://127.0.0.1:{model_port}/v1")
    ws, cfg = Workspace(workspace), load_config(workspace / "nova.yaml").config
    assert cfg.gateway.fallback is None and [c.role for c in cfg.candidates] == ["primary"]
    broken = MockServerSettings(port=model_port, error_rate=1.0, fault_mix=("http_500",))
    healthy = MockServerSettings(port=model_port, output_tokens=2)
    with open_store(ws, cfg) as store, running_gateway(cfg, store) as (gw_url, _):
        key = create_key(store, name="burn-test", role="app").secret
        gw_target = gw_url.removeprefix("http://")
        with monitoring_stack(
            workspace, gateway_target=gw_target, engine_targets={}, extra="  burn_page_for: 1s\n"
        ) as stack:
            prom = stack.prometheus
            wait_for(
                "Prometheus to scrape the gateway",
                lambda: any(r["value"][1] == "1" for r in query(prom, 'up{job="nova-gateway"}')),
            )
            # 1. the model fails every request: 20 errors over ~4 s (several scrapes)
            with running_mock_server(broken):
                codes = send(gw_url, key, ERRORS, pause_s=0.2)
                assert codes == [502] * ERRORS
                wait_for(
                    f"{ALERT} to reach the webhook as firing",
                    lambda: bool(stack.notified(ALERT, "firing", candidate=CAND)),
                    timeout=45,
                )
            alert = stack.notified(ALERT, "firing", candidate=CAND)[0]
            assert alert["labels"]["severity"] == "page"
            assert alert["labels"]["owner"] == "Aura"
            assert alert["labels"]["kpi"] == "error-rate"
            assert alert["labels"]["slo_windows"] == "1h/5m"
            assert not stack.notified(ALERT, "resolved", candidate=CAND)
            assert bad_ratio_5m(prom) == 1.0  # every routed request failed

            # 2. the model answers again on the same address: good traffic, over ~4 s
            with running_mock_server(healthy):
                codes = []
                for _ in range(8):
                    codes += send(gw_url, key, GOOD // 8)
                    time.sleep(0.5)
                assert codes == [200] * GOOD
                wait_for(
                    f"{ALERT} to reach the webhook as resolved",
                    lambda: bool(stack.notified(ALERT, "resolved", candidate=CAND)),
                    timeout=45,
                )
            assert 0 < bad_ratio_5m(prom) < 0.144
