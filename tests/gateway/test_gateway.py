"""`nova serve` basics: OpenAI-compatible answers, the AI marker, models, metrics, health,
one audit record per request."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.gateway.conftest import Gw, make_config

CONTRACT_METRICS = {
    "gen_ai_server_request_duration_seconds": {"candidate", "error_type"},
    "gen_ai_server_time_to_first_token_seconds": {"candidate"},
    "gen_ai_server_time_per_output_token_seconds": {"candidate"},
    "gen_ai_client_token_usage": {"candidate", "gen_ai_token_type"},
    "nova_gateway_requests_total": {"candidate", "code"},
    "nova_gateway_overhead_seconds": set(),
    "nova_gateway_fallbacks_total": {"from_candidate", "to_candidate", "reason"},
    "nova_gateway_rail_blocks_total": {"rail", "stage"},
    "nova_gateway_budget_rejections_total": {"kind"},
    "nova_gateway_stream_cuts_total": {"candidate"},
    "nova_gateway_cost_usd_total": {"candidate"},
}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent)."""
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:]+)(\{.*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if got == labels:
            return float(m.group(3))
    return 0.0


def test_plain_answer_is_openai_shaped_and_marked_ai_generated(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=5)))
    r = gw.chat()
    assert r.status == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "primary-m"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Guten Tag und herzlich willkommen",
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    assert body["ai_generated"] is True
    assert r.headers["X-AI-Generated"] == "true"
    assert r.headers["X-Nova-Candidate"] == "primary-m"


def test_streamed_answer_has_every_token_the_marker_and_done(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=4)))
    r = gw.chat(stream=True, stream_options={"include_usage": True})
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers["X-AI-Generated"] == "true"
    events = r.events()
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["ai_generated"] is True for c in chunks if "choices" in c)
    text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )
    assert text == "Guten Tag und herzlich"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}


def test_ai_marker_can_be_switched_off(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(), ai_marker=False))
    r = gw.chat()
    assert r.status == 200
    assert "X-AI-Generated" not in r.headers
    assert "ai_generated" not in r.json()


def test_models_lists_what_the_key_may_call(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    url = mock_urls()
    gw = gw_factory(make_config(url, url))
    r = gw.call("GET", "/v1/models")
    assert [m["id"] for m in r.json()["data"]] == ["primary-m", "fallback-m"]
    only = gw.key("app", models=["fallback-m"])
    gw.reload_keys()
    r = gw.call("GET", "/v1/models", key=only)
    assert [m["id"] for m in r.json()["data"]] == ["fallback-m"]


def test_metrics_use_the_contract_names_and_labels(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=3)))
    assert gw.chat(stream=True).status == 200
    assert gw.chat(role=None).status == 401
    text = gw.call("GET", "/metrics", role=None).body.decode()
    for name, labels in CONTRACT_METRICS.items():
        bare = name.removesuffix("_total")
        assert f"# TYPE {name} " in text or f"# TYPE {bare} " in text, name
        for line in text.splitlines():
            if line.startswith(name) and "{" in line and not line.startswith(f"{name}_created"):
                got = set(re.findall(r'(\w+)="', line)) - {"le"}
                assert got == labels, line
    assert metric(text, "nova_gateway_requests_total", candidate="primary-m", code="200") == 1
    assert metric(text, "nova_gateway_requests_total", candidate="", code="401") == 1
    ttft_count = "gen_ai_server_time_to_first_token_seconds_count"
    assert metric(text, ttft_count, candidate="primary-m") == 1
    assert (
        metric(
            text, "gen_ai_client_token_usage_sum", candidate="primary-m", gen_ai_token_type="output"
        )
        == 3
    )
    assert metric(text, "nova_gateway_overhead_seconds_count") == 2


def test_health_and_readiness_say_what_is_active(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls()))
    assert gw.call("GET", "/healthz", role=None).json() == {"status": "ok"}
    r = gw.call("GET", "/readyz", role=None)
    assert r.status == 200
    detail = r.json()
    assert detail["ready"] is True
    assert detail["candidates"] == {"primary-m": "closed"}
    assert detail["rails"].startswith("not active")
    assert detail["audit"] == "ok"


def test_every_request_gets_one_chained_audit_record_without_secrets(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], tmp_path: Path
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=3)))
    before = len(gw.store.audit_entries())
    ok = gw.chat(stream=True)
    denied = gw.chat(role=None, model="nope")
    assert (ok.status, denied.status) == (200, 401)
    entries = gw.store.audit_entries()[before:]
    assert [e.action for e in entries] == ["gateway.request", "gateway.request"]
    rec = entries[0].payload
    assert rec["request_id"] == ok.headers["X-Request-Id"]
    assert rec["key_id"] and rec["role"] == "app" and rec["candidate"] == "primary-m"
    assert rec["tokens"] == {"prompt": 2, "completion": 3, "source": "server"}
    assert rec["status"] == 200 and rec["outcome"] == "ok" and rec["fallback_path"] == []
    assert rec["latency_ms"] > 0 and rec["ttft_ms"] > 0
    assert len(rec["prompt_sha256"]) == 64 and len(rec["answer_sha256"]) == 64
    assert "Hallo Sophia" not in str(rec) and "Guten" not in str(rec)  # hashed, not stored
    assert entries[1].actor == "anonymous" and entries[1].payload["status"] == 401
    assert gw.store.verify_audit() == []
    # No key in any row: the database file does not contain any key's secret part.
    db = (tmp_path / "nova.db").read_bytes() + (tmp_path / "nova.db-wal").read_bytes()
    for key in gw.keys.values():
        assert key[18:].encode() not in db and key.encode() not in db


def test_audit_api_pages_through_the_log(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=2)))
    for _ in range(3):
        assert gw.chat().status == 200
    page = gw.call("GET", "/v1/audit?after=1&limit=1", role="auditor").json()["data"]
    assert [e["seq"] for e in page] == [2]
    assert gw.call("GET", "/v1/audit/verify", role="auditor").json() == {
        "intact": True,
        "issues": [],
    }
    assert gw.call("GET", "/v1/audit?after=x", role="auditor").status == 400


def test_an_unwritable_audit_log_refuses_instead_of_serving_unaudited(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], tmp_path: Path
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=2)))
    with sqlite3.connect(tmp_path / "nova.db") as con:
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    r = gw.chat()
    assert r.status == 503 and "audit log cannot be written" in r.json()["error"]["message"]
    s = gw.chat(stream=True)
    events = s.events()
    assert "[DONE]" not in events and events[-1]["error"]["code"] == "audit"
    assert gw.call("GET", "/readyz", role=None).status == 503
    # A refusal (no key) whose record cannot be written: 503 too, with its request id.
    r = gw.call("POST", "/v1/chat/completions", role=None, json_body={"model": "primary-m"})
    assert r.status == 503 and r.headers.get("X-Request-Id")
    assert "audit log cannot be written" in r.json()["error"]["message"]
    # Counted as what the clients got: a 503, and a stream that had started with 200.
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert 'nova_gateway_requests_total{candidate="primary-m",code="503"} 1.0' in text
    assert 'nova_gateway_requests_total{candidate="primary-m",code="200"} 1.0' in text
    assert (  # both durations, with error.type audit_error
        'gen_ai_server_request_duration_seconds_count{candidate="primary-m",'
        'error_type="audit_error"} 2.0\n' in text
    )


def write_yaml(root: Path, text: str) -> Path:
    root.mkdir()
    (root / "nova.yaml").write_text(text, encoding="utf-8")
    return root


def test_serve_refuses_a_bad_gateway_config_with_one_line(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    head = "version: 1\nname: S\ncandidates:\n  - {id: a, model: 'openai/m', "
    ws = write_yaml(tmp_path / "a", head + "provider: {base_url: 'http://x/v1'}}\n")
    r = run_cli("--workspace", str(ws), "serve", "--port", "0")
    assert r.code == 2
    assert "gateway.primary: no candidate to serve" in r.err
    ws = write_yaml(
        tmp_path / "b",
        head + "role: primary, provider: {base_url: 'http://x/v1'}}\ngateway:\n  fallback: zz\n",
    )
    r = run_cli("--workspace", str(ws), "serve", "--port", "0")
    assert r.code == 2
    assert "nova.yaml:6: gateway.fallback: unknown candidate 'zz'" in r.err


def test_cost_counter_grows_by_the_price_sheet_cost_and_unpriced_has_no_series(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    from nova.catalog import load_catalog

    cfg = make_config(mock_urls(output_tokens=5), mock_urls(output_tokens=5))
    priced = cfg.candidates[0].model_copy(update={"catalog": "gpt-4o", "hosting": "managed"})
    cfg = cfg.model_copy(update={"candidates": [priced, cfg.candidates[1]]})
    gw = gw_factory(cfg, catalog=load_catalog())
    # azure-openai-2026-11: gpt-4o 2.50 USD in, 10.00 USD out per million tokens; the mock
    # reports 2 prompt and 5 completion tokens: (2 * 2.50 + 5 * 10.00) / 1e6 = 5.5e-05 USD.
    one = (2 * 2.50 + 5 * 10.00) / 1e6
    assert gw.chat().status == 200
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_cost_usd_total", candidate="primary-m") == one
    assert gw.chat(stream=True).status == 200
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_cost_usd_total", candidate="primary-m") == one + one
    assert gw.store.audit_entries()[-1].payload["cost_usd"] == one
    # The fallback candidate has no price: it answers, and no cost series appears for it.
    r = gw.chat(model="fallback-m")
    assert r.status == 200 and r.headers["X-Nova-Candidate"] == "fallback-m"
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_requests_total", candidate="fallback-m", code="200") == 1
    assert 'nova_gateway_cost_usd_total{candidate="fallback-m"}' not in text
    assert gw.store.audit_entries()[-1].payload["cost_usd"] is None
