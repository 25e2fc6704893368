"""`nova alerts` with the real promtool and amtool: the files validate, and the generated unit
tests prove each burn-rate alert fires at its burn and stays silent below it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from nova.config import init_workspace
from tests._services import require
from tests.observability.conftest import alerts_by_name, set_monitoring

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("promtool", "amtool"):
        if shutil.which(tool) is None:
            require(tool, "apt-get install prometheus prometheus-alertmanager")


def test_bare_alerts_renders_checks_and_tests(
    workspace: Path, run_cli: Callable[..., object]
) -> None:
    r = run_cli("--workspace", str(workspace), "alerts")
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    out = r.out  # type: ignore[attr-defined]
    assert "ok: promtool check config" in out
    assert "ok: promtool check rules" in out
    assert "ok: amtool check-config" in out
    assert "ok: promtool test rules" in out
    tests = (workspace / "deploy/monitoring/prometheus/tests/nova-alerts.test.yml").read_text()
    # two cases (fires at 1.1x, silent at 0.9x) for each of 10 burn-rate alerts
    assert tests.count("BurnRate") >= 40


def test_generated_tests_catch_a_wrong_threshold(
    workspace: Path, run_cli: Callable[..., object]
) -> None:
    assert run_cli("--workspace", str(workspace), "alerts", "render").code == 0  # type: ignore[attr-defined]
    rules = workspace / "deploy/monitoring/prometheus/rules/nova-alerts.yml"
    text = rules.read_text()
    # a page threshold of 20x instead of 14.4x: the 1.1x case must no longer fire
    rules.write_text(text.replace("> 0.144", "> 0.2"))
    r = run_cli("--workspace", str(workspace), "alerts", "test")
    assert r.code == 1  # type: ignore[attr-defined]
    assert "ErrorRateBurnRatePage1h" in r.err  # type: ignore[attr-defined]
    # too low (10x): the 0.9x case fires, so the test fails again
    rules.write_text(text.replace("> 0.144", "> 0.1"))
    r = run_cli("--workspace", str(workspace), "alerts", "test")
    assert r.code == 1  # type: ignore[attr-defined]
    assert "ErrorRateBurnRatePage1h" in r.err  # type: ignore[attr-defined]


def test_check_fails_on_an_invalid_custom_rule(
    workspace: Path, run_cli: Callable[..., object]
) -> None:
    assert run_cli("--workspace", str(workspace), "alerts", "render").code == 0  # type: ignore[attr-defined]
    custom = workspace / "deploy/monitoring/prometheus/rules/custom_rules.yml"
    custom.write_text("groups:\n- name: mine\n  rules:\n  - alert: X\n    expr: 'rate(x[5m]'\n")
    r = run_cli("--workspace", str(workspace), "alerts", "check")
    assert r.code == 1  # type: ignore[attr-defined]
    assert "FAILED: promtool check rules" in r.out  # type: ignore[attr-defined]


@pytest.mark.parametrize("candidate", ["gpt4o-azure", "qwen25-05b-local"])
def test_english_managed_and_llamacpp_workspaces_pass(
    tmp_path: Path, run_cli: Callable[..., object], candidate: str
) -> None:
    root = tmp_path / "ws-en"
    init_workspace(root, language="en")
    r = run_cli("--workspace", str(root), "alerts", "--candidate", candidate)
    assert r.code == 0, r.err  # type: ignore[attr-defined]


def test_missing_promtool_says_what_to_install(
    workspace: Path, run_cli: Callable[..., object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert run_cli("--workspace", str(workspace), "alerts", "render").code == 0  # type: ignore[attr-defined]
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = run_cli("--workspace", str(workspace), "alerts", "check")
    assert r.code == 1  # type: ignore[attr-defined]
    assert r.err.strip() == (  # type: ignore[attr-defined]
        "error: promtool is not installed: apt-get install prometheus prometheus-alertmanager"
    )
    assert os.environ["PATH"] == str(empty)


def test_budget_alerts_and_short_page_for_pass_their_tests(
    workspace: Path, run_cli: Callable[..., object]
) -> None:
    set_monitoring(
        workspace, "  daily_cost_usd: 150\n  daily_tokens: 2000000\n  burn_page_for: 1s\n"
    )
    r = run_cli("--workspace", str(workspace), "alerts")
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    alerts = alerts_by_name(workspace)
    assert (
        alerts["CostBudgetBurn"]["expr"]
        == "sum(rate(nova_gateway_cost_usd_total[1h])) * 86400 > 150"
    )
    assert "TokenBudgetBurn" in alerts
    assert alerts["ErrorRateBurnRatePage1h"]["for"] == "1s"
    assert alerts["ErrorRateBurnRateTicket3d"]["for"] == "1h"


def test_mean_and_token_kpis_and_unwatchable_ones(
    workspace: Path, run_cli: Callable[..., object]
) -> None:
    path = workspace / "nova.yaml"
    extra = (
        "  - {id: ttft-mean, name: TTFT mean, metric: ttft_ms, statistic: mean, target: 400, "
        "direction: lower, unit: ms, owner: Aura}\n"
        "  - {id: tokens-req, name: Tokens per request, metric: tokens_per_request, "
        "statistic: mean, target: 1200, direction: lower, owner: Platform}\n"
        "  - {id: goodput, name: Goodput, metric: goodput, statistic: rate, target: 0.9, "
        "direction: higher, owner: Aura}\n"
    )
    text = path.read_text()
    path.write_text(text.replace("\ndecision:\n", extra + "\ndecision:\n", 1))
    r = run_cli("--workspace", str(workspace), "alerts")
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    assert "not watched at run time: goodput" in r.out  # type: ignore[attr-defined]
    alerts = alerts_by_name(workspace)
    assert alerts["TtftMeanAboveTarget"]["expr"].endswith("> 0.4")
    assert alerts["TokensReqAboveTarget"]["labels"]["owner"] == "Platform"
    readme = (workspace / "deploy/monitoring/README.md").read_text()
    assert "- `goodput`: no gateway or engine metric gives goodput" in readme
