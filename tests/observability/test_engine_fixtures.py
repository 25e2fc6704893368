"""Every metric a rule reads exists in what the engine really exports (dated fixtures written
from each engine's source or documentation; see the header of each fixture)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
import yaml

from nova.observability import ENGINE_PROFILES, EngineProfile, metric_names, render_monitoring
from nova.providers import MockServerSettings, running_mock_server
from tests.observability.conftest import loaded, set_monitoring

FIXTURES = Path(__file__).parent / "fixtures"


def exposed_names(text: str) -> set[str]:
    """Series names of a Prometheus text exposition."""
    out = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return out


def engine_rule_names(workspace: Path, profile: str) -> set[str]:
    """Raw metric names that the rendered engine rules read for ``profile``."""
    set_monitoring(workspace, f"  engines: {{llama31-70b-vllm: {profile}}}\n")
    ws, cfg = loaded(workspace)
    render_monitoring(ws, cfg)
    rec = yaml.safe_load(
        (workspace / "deploy/monitoring/prometheus/rules/nova-recording.yml").read_text()
    )
    names: set[str] = set()
    for g in rec["groups"]:
        for r in g["rules"]:
            if f'nova_engine="{profile}"' in r["expr"]:
                names |= metric_names(r["expr"])
    return names


@pytest.mark.parametrize("profile", sorted(ENGINE_PROFILES))
def test_rules_read_only_metrics_the_engine_exports(workspace: Path, profile: str) -> None:
    fixture = FIXTURES / f"{profile}.prom"
    header = "\n".join(ln for ln in fixture.read_text("utf-8").splitlines() if ln.startswith("# "))
    assert re.search(r"read \d{4}-\d{2}-\d{2}", header), "a fixture names the date it was read"
    assert "https://github.com/" in header, "a fixture names its source"
    exported = exposed_names(fixture.read_text("utf-8"))
    used = engine_rule_names(workspace, profile)
    assert used, "no engine rule was rendered"
    assert used <= exported, f"{profile}: not exported: {sorted(used - exported)}"
    # and the profile's own declaration agrees with the fixture
    assert ENGINE_PROFILES[profile].metric_names() <= exported | _hist_parts(exported)


def _hist_parts(names: set[str]) -> set[str]:
    return {n for n in names if n.endswith(("_bucket", "_count", "_sum"))}


def test_a_renamed_metric_is_caught() -> None:
    """The check above fails for a profile written against an old name (vLLM V0's KV gauge
    is not what V1 exports under --show-hidden-metrics-for-version off)."""
    v1 = exposed_names((FIXTURES / "vllm.prom").read_text("utf-8"))
    stale = ENGINE_PROFILES["vllm"].model_copy(
        update={
            "kv_cache_usage": ENGINE_PROFILES["vllm"].kv_cache_usage.model_copy(  # type: ignore[union-attr]
                update={"metric": "vllm:kv_cache_usage"}
            )
        }
    )
    assert isinstance(stale, EngineProfile)
    assert "vllm:kv_cache_usage" in stale.metric_names() - v1
    llamacpp = exposed_names((FIXTURES / "llamacpp.prom").read_text("utf-8"))
    assert "llamacpp:kv_cache_usage_ratio" not in llamacpp  # removed upstream; nova does not use it
    assert ENGINE_PROFILES["llamacpp"].kv_cache_usage is None


def test_mock_server_exports_vllm_names() -> None:
    """nova's mock server stands in for vLLM in the live tests: every vllm:* series it exports
    is a real vLLM V1 series, and its counters follow the requests it served."""
    v1 = exposed_names((FIXTURES / "vllm.prom").read_text("utf-8"))
    settings = MockServerSettings(ttft_ms=5, itl_ms=1, output_tokens=3, model="m")
    with running_mock_server(settings) as base:
        import json

        for _ in range(2):
            req = urllib.request.Request(
                base + "/chat/completions",
                data=json.dumps(
                    {"model": "m", "messages": [{"role": "user", "content": "a b"}]}
                ).encode(),
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=10).read()
        text = urllib.request.urlopen(base.removesuffix("/v1") + "/metrics", timeout=10).read()
    body = text.decode()
    names = {n for n in exposed_names(body) if n.startswith("vllm:")}
    assert names and names <= v1, sorted(names - v1)
    assert 'vllm:generation_tokens_total{model_name="m",engine="0"} 6' in body
    assert 'vllm:prompt_tokens_total{model_name="m",engine="0"} 4' in body
    assert 'vllm:request_success_total{model_name="m",engine="0",finished_reason="stop"} 2' in body
    assert 'vllm:time_to_first_token_seconds_bucket{model_name="m",engine="0",le="0.005"} 2' in body
    assert 'vllm:time_to_first_token_seconds_bucket{model_name="m",engine="0",le="0.001"} 0' in body
    assert 'vllm:num_requests_running{model_name="m",engine="0"} 0' in body
