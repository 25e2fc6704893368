"""Fallback before the first token, the circuit breaker, and explicit stream cuts after it,
with faults injected by nova's mock server (and a handler-level fake for malformed chunks)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests._services import aiohttp_app_server, free_port
from tests.gateway.conftest import Gw, make_config
from tests.gateway.test_gateway import metric


def mock_requests(url: str) -> int:
    """Chat requests a mock server has seen (from its own /metrics)."""
    from tests.gateway.conftest import request

    text = request(url.removesuffix("/v1"), "GET", "/metrics").body.decode()
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("nova_mock_requests_total{")
        )
    )


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("http_500", "http_5xx"),
        ("http_503", "http_5xx"),
        ("http_429", "http_429"),
        ("reset", "connect_error"),
        ("stall", "first_token_timeout"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_primary_fault_before_first_token_falls_back(
    mock_urls: Callable[..., str],
    gw_factory: Callable[..., Gw],
    fault: str,
    reason: str,
    stream: bool,
) -> None:
    primary = mock_urls(error_rate=1.0, fault_mix=[fault], stall_s=5)
    fallback = mock_urls(output_tokens=3)
    # A plain answer has no first token before the whole answer: the candidate's total
    # timeout (provider.timeout_s) bounds it instead.
    reason = "total_timeout" if fault == "stall" and not stream else reason
    cfg = make_config(primary, fallback, {"timeout_s": 0.5}, first_token_timeout_s=0.5)
    gw = gw_factory(cfg)
    r = gw.chat(stream=stream)
    assert r.status == 200
    assert r.headers["X-Nova-Candidate"] == "fallback-m"
    if stream:
        assert r.events()[-1] == "[DONE]"
    else:
        assert r.json()["choices"][0]["message"]["content"] == "Guten Tag und"
        assert r.json()["nova"] == {"fallback_from": ["primary-m"]}
    text = gw.call("GET", "/metrics", role=None).body.decode()
    labels = {"from_candidate": "primary-m", "to_candidate": "fallback-m", "reason": reason}
    assert metric(text, "nova_gateway_fallbacks_total", **labels) == 1
    rec = gw.store.audit_entries()[-1].payload
    assert rec["candidate"] == "fallback-m"
    assert [(p["candidate"], p["reason"]) for p in rec["fallback_path"]] == [("primary-m", reason)]


def test_stopped_primary_falls_back(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(f"http://127.0.0.1:{free_port()}/v1", mock_urls()))
    r = gw.chat()
    assert r.status == 200 and r.headers["X-Nova-Candidate"] == "fallback-m"


def test_a_request_the_model_rejects_does_not_fall_back(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    fallback = mock_urls()
    gw = gw_factory(make_config(mock_urls(max_model_len=16), fallback))
    r = gw.chat(max_tokens=100)
    assert r.status == 400 and "context length" in r.json()["error"]["message"]
    assert mock_requests(fallback) == 0


def test_both_down_is_a_502_naming_the_candidates(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    down = mock_urls(error_rate=1.0, fault_mix=["http_503"])
    gw = gw_factory(make_config(down, down))
    r = gw.chat(stream=True)
    assert r.status == 502
    assert r.json()["error"]["code"] == "upstream_error"
    rec = gw.store.audit_entries()[-1].payload
    assert [p["candidate"] for p in rec["fallback_path"]] == ["primary-m", "fallback-m"]
    assert rec["status"] == 502


def test_circuit_breaker_opens_skips_the_primary_and_retries_after_cooldown(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    primary = mock_urls(error_rate=1.0, fault_mix=["http_500"])
    fallback = mock_urls()
    cfg = make_config(primary, fallback, breaker_failures=2, breaker_cooldown_s=0.5)
    gw = gw_factory(cfg)
    for _ in range(2):
        assert gw.chat().status == 200
    assert mock_requests(primary) == 2
    assert gw.call("GET", "/readyz", role=None).json()["candidates"]["primary-m"] == "open"
    for _ in range(3):
        assert gw.chat().status == 200
    assert mock_requests(primary) == 2  # the open breaker kept requests away
    text = gw.call("GET", "/metrics", role=None).body.decode()
    labels = {"from_candidate": "primary-m", "to_candidate": "fallback-m"}
    assert metric(text, "nova_gateway_fallbacks_total", **labels, reason="circuit_open") == 3
    time.sleep(0.6)
    assert gw.chat().status == 200
    assert mock_requests(primary) == 3  # one trial after the cooldown


def test_stream_cut_after_tokens_ends_with_an_error_event_not_a_silent_200(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    fallback = mock_urls()
    cutting = mock_urls(output_tokens=8, error_rate=1.0, fault_mix=["cut"])
    gw = gw_factory(make_config(cutting, fallback))
    r = gw.chat(stream=True)
    assert r.status == 200  # the headers went out with the first token
    events = r.events()
    assert "[DONE]" not in events
    text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")
    )
    assert text == "Guten Tag und herzlich"  # half of the 8 tokens
    finishes = [e["choices"][0]["finish_reason"] for e in events if e.get("choices")]
    assert finishes[-1] == "error"
    assert events[-1]["error"]["code"] == "stream_cut"
    assert mock_requests(fallback) == 0  # never a fallback after the first token
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_stream_cuts_total", candidate="primary-m") == 1
    rec = gw.store.audit_entries()[-1].payload
    assert rec["outcome"] == "stream_cut" and rec["tokens"]["completion"] == 4


def test_a_plain_answer_cut_before_it_was_sent_falls_back(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    cutting = mock_urls(output_tokens=8, error_rate=1.0, fault_mix=["cut"])
    gw = gw_factory(make_config(cutting, mock_urls(output_tokens=2)))
    r = gw.chat()
    assert r.status == 200
    assert r.json()["choices"][0]["message"]["content"] == "Guten Tag"
    assert r.headers["X-Nova-Candidate"] == "fallback-m"


# --- malformed chunks: a handler-level fake, the mock server has no such fault -------------
@pytest.fixture
def malformed_server() -> Iterator[str]:
    """Streams ``good`` tokens, then a chunk that is not JSON (``good`` from the query)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        good = int(request.match_info.get("good", "0"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(good):
            chunk = {
                "id": "x",
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": f"t{i} "}}],
            }
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await resp.write(b"data: {not json\n\n")
        return resp

    app = web.Application()
    app.router.add_post("/{good}/v1/chat/completions", handler)
    app.router.add_post("/v1/chat/completions", handler)
    with aiohttp_app_server(app) as url:
        yield url


def test_malformed_first_chunk_falls_back_malformed_later_chunk_cuts(
    mock_urls: Callable[..., str],
    gw_factory: Callable[..., Gw],
    malformed_server: str,
    tmp_path: Path,
) -> None:
    gw = gw_factory(make_config(f"{malformed_server}/v1", mock_urls(output_tokens=2)))
    r = gw.chat(stream=True)
    assert r.status == 200 and r.headers["X-Nova-Candidate"] == "fallback-m"
    assert gw.store.audit_entries()[-1].payload["fallback_path"][0]["reason"] == "stream_cut"


def test_malformed_chunk_after_tokens_is_a_counted_cut(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], malformed_server: str
) -> None:
    from urllib.parse import quote

    gw = gw_factory(make_config(f"{malformed_server}/{quote('3')}/v1", mock_urls()))
    r = gw.chat(stream=True)
    events = r.events()
    assert r.status == 200 and r.headers["X-Nova-Candidate"] == "primary-m"
    assert events[-1]["error"]["code"] == "stream_cut"
    assert "invalid JSON" in events[-1]["error"]["message"]
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_stream_cuts_total", candidate="primary-m") == 1


def test_breaker_state_machine() -> None:
    from nova.gateway import Breaker

    now = [0.0]
    b = Breaker(failures=2, cooldown_s=10, clock=lambda: now[0])
    assert b.allow() and b.state == "closed"
    b.failure()
    assert b.state == "closed"
    b.failure()
    assert (b.state, b.allow()) == ("open", False)
    now[0] = 10.5
    assert b.state == "half-open"
    assert b.allow() and not b.allow()  # exactly one trial
    b.failure()
    assert (b.state, b.allow()) == ("open", False)
    now[0] = 21.0
    assert b.allow()
    b.success()
    assert (b.state, b.allow(), b.allow()) == ("closed", True, True)


def test_any_provider_gets_the_same_path_scripted_mock_falls_back_to_echo(
    gw_factory: Callable[..., Gw],
) -> None:
    from nova.config import NovaConfig

    cfg = NovaConfig.model_validate(
        {
            "name": "S",
            "candidates": [
                {"id": "primary-m", "model": "mock/down", "role": "primary",
                 "provider": {"options": {"fail": "server"}}},
                {"id": "fallback-m", "model": "mock/echo", "role": "fallback"},
            ],
        }
    )  # fmt: skip
    gw = gw_factory(cfg)
    for stream in (False, True):
        r = gw.chat(stream=stream)
        assert r.status == 200 and r.headers["X-Nova-Candidate"] == "fallback-m"
        if stream:
            events = r.events()
            text = "".join(
                e["choices"][0]["delta"].get("content") or ""
                for e in events[:-1]
                if e.get("choices")
            )
        else:
            text = r.json()["choices"][0]["message"]["content"]
        assert text == "Hallo Sophia"  # the echo of the last user message
    rec = gw.store.audit_entries()[-1].payload
    assert rec["fallback_path"][0]["reason"] == "http_5xx"
