"""nova's mock LLM server, driven over real sockets on 127.0.0.1 with a plain aiohttp client."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest
from pydantic import ValidationError

from nova.providers._mockserver import MockServer, MockServerSettings, running_mock_server

T = TypeVar("T")
HELLO = [{"role": "system", "content": "Sei kurz."}, {"role": "user", "content": "Hallo du da"}]
Scenario = Callable[[str, aiohttp.ClientSession], Awaitable[T]]


def serve(scenario: Scenario[T], **settings: Any) -> T:
    """Run ``scenario(base_url, session)`` against a fresh server on a free port."""

    async def go() -> T:
        server = MockServer(MockServerSettings(**settings))
        async with server, aiohttp.ClientSession() as session:
            return await scenario(server.url, session)

    return asyncio.run(go())


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "nova-mock", "messages": HELLO, **extra}


async def read_events(resp: aiohttp.ClientResponse) -> tuple[list[str], Exception | None]:
    """SSE ``data`` payloads until the stream ends, and the error that ended it, if any."""
    events: list[str] = []
    try:
        async for line in resp.content:
            text = line.decode().rstrip("\n")
            if text.startswith("data: "):
                events.append(text[6:])
    except aiohttp.ClientPayloadError as exc:
        return events, exc
    return events, None


def content_chunks(events: list[str]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        if e != "[DONE]":
            chunk = json.loads(e)
            if chunk["choices"] and "content" in chunk["choices"][0]["delta"]:
                out.append(chunk)
    return out


# --- answers ------------------------------------------------------------------------------
def test_non_streaming_answer_has_the_openai_shape_and_usage() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[dict[str, Any], str]:
        async with s.post(f"{url}/chat/completions", json=chat_body()) as resp:
            assert resp.status == 200
            return await resp.json(), resp.headers["x-request-id"]

    data, rid = serve(scenario, output_tokens=6)
    assert data["id"] == rid == "chatcmpl-mock-1"
    assert data["object"] == "chat.completion"
    assert data["model"] == "nova-mock"
    choice = data["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": "Guten Tag und herzlich willkommen bei",
    }
    assert choice["finish_reason"] == "stop"
    # prompt tokens = whitespace-separated words of all message contents: 2 + 3
    assert data["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}


def test_prompt_tokens_count_text_parts_and_ids_count_up() -> None:
    parts = [{"type": "text", "text": "eins zwei"}, {"type": "text", "text": " drei "}]

    async def scenario(url: str, s: aiohttp.ClientSession) -> list[Any]:
        out = []
        body = chat_body(messages=[{"role": "user", "content": parts}])
        for _ in range(2):
            async with s.post(f"{url}/chat/completions", json=body) as resp:
                out.append(await resp.json())
        async with s.post(
            f"{url}/chat/completions", json=body, headers={"x-request-id": "trace-42"}
        ) as resp:
            out.append(resp.headers["x-request-id"])
        return out

    first, second, echoed = serve(scenario)
    assert first["usage"]["prompt_tokens"] == 3
    assert (first["id"], second["id"]) == ("chatcmpl-mock-1", "chatcmpl-mock-2")
    assert echoed == "trace-42"


@pytest.mark.parametrize("include_usage", [True, False])
def test_streaming_sends_role_chunk_one_token_per_chunk_usage_and_done(
    include_usage: bool,
) -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[list[str], Any]:
        body = chat_body(stream=True, stream_options={"include_usage": include_usage})
        async with s.post(f"{url}/chat/completions", json=body) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            return await read_events(resp)

    events, err = serve(scenario, output_tokens=5)
    assert err is None
    chunks = [json.loads(e) for e in events[:-1]]
    assert events[-1] == "[DONE]"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    content = content_chunks(events)
    assert [c["choices"][0]["delta"]["content"] for c in content] == [
        "Guten",
        " Tag",
        " und",
        " herzlich",
        " willkommen",
    ]
    assert [c["choices"][0]["finish_reason"] for c in content] == [None] * 4 + ["stop"]
    assert {c["id"] for c in chunks} == {"chatcmpl-mock-1"}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    if include_usage:
        assert len(chunks) == 1 + 5 + 1
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"] == {
            "prompt_tokens": 5,
            "completion_tokens": 5,
            "total_tokens": 10,
        }
    else:
        assert len(chunks) == 1 + 5
        assert not any("usage" in c for c in chunks)


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_caps_the_answer(stream: bool) -> None:
    async def ask(s: aiohttp.ClientSession, url: str, **extra: Any) -> tuple[int, str]:
        body = chat_body(stream=stream, **extra)
        async with s.post(f"{url}/chat/completions", json=body) as resp:
            if not stream:
                data = await resp.json()
                choice = data["choices"][0]
                return data["usage"]["completion_tokens"], choice["finish_reason"]
            events, _ = await read_events(resp)
        chunks = content_chunks(events)
        return len(chunks), chunks[-1]["choices"][0]["finish_reason"]

    async def scenario(url: str, s: aiohttp.ClientSession) -> list[tuple[int, str]]:
        return [
            await ask(s, url, max_tokens=3),
            await ask(s, url, max_tokens=100),
            await ask(s, url, max_completion_tokens=2),
            await ask(s, url, max_tokens=4, mock={"output_tokens": 2}),
        ]

    assert serve(scenario, output_tokens=8) == [
        (3, "length"),
        (8, "stop"),
        (2, "length"),
        (2, "stop"),
    ]


def test_ignore_eos_false_ends_early_and_reproducibly() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> list[int]:
        lengths = []
        for _ in range(20):
            body = chat_body(ignore_eos=False)
            async with s.post(f"{url}/chat/completions", json=body) as resp:
                lengths.append((await resp.json())["usage"]["completion_tokens"])
        return lengths

    first = serve(scenario, output_tokens=10, seed=3)
    assert first == serve(scenario, output_tokens=10, seed=3)
    assert all(1 <= n <= 10 for n in first) and len(set(first)) > 1


# --- faults, one at a time through the per-request override -------------------------------
@pytest.mark.parametrize("fault", ["http_500", "http_503", "http_429"])
def test_http_faults(fault: str) -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[int, Any, Any]:
        async with s.post(f"{url}/chat/completions", json=chat_body(mock={"fault": fault})) as r:
            return r.status, r.headers.get("Retry-After"), await r.json()

    status, retry_after, body = serve(scenario, retry_after_s=7)
    assert status == int(fault[5:])
    assert fault in body["error"]["message"]
    assert retry_after == ("7" if fault == "http_429" else None)


def test_retry_after_override_and_keep_alive_after_http_fault() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[str, int]:
        body = chat_body(mock={"fault": "http_429", "retry_after_s": 3})
        async with s.post(f"{url}/chat/completions", json=body) as r:
            ra = r.headers["Retry-After"]
        async with s.post(f"{url}/chat/completions", json=chat_body()) as r:
            return ra, r.status

    assert serve(scenario) == ("3", 200)


def test_reset_closes_the_connection_without_a_response() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> int:
        body = chat_body(mock={"fault": "reset"})
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            async with s.post(f"{url}/chat/completions", json=body) as r:
                await r.read()
        async with s.post(f"{url}/chat/completions", json=chat_body()) as r:  # server lives on
            return r.status

    assert serve(scenario) == 200


def test_cut_stream_stops_halfway_without_finish_reason_or_done() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[list[str], Any]:
        body = chat_body(stream=True, mock={"fault": "cut"})
        async with s.post(f"{url}/chat/completions", json=body) as r:
            assert r.status == 200
            return await read_events(r)

    events, err = serve(scenario, output_tokens=10)
    assert isinstance(err, aiohttp.ClientPayloadError)
    assert "[DONE]" not in events
    chunks = content_chunks(events)
    assert len(chunks) == 5
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_cut_plain_answer_closes_mid_body() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> None:
        async with s.post(f"{url}/chat/completions", json=chat_body(mock={"fault": "cut"})) as r:
            assert r.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()

    serve(scenario)


@pytest.mark.integration
@pytest.mark.parametrize("stream", [True, False])
def test_stall_sends_headers_then_nothing_then_closes(stream: bool) -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[float, float]:
        t0 = time.perf_counter()
        body = chat_body(stream=stream, mock={"fault": "stall"})
        async with s.post(f"{url}/chat/completions", json=body) as r:
            t_headers = time.perf_counter() - t0
            assert r.status == 200
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(r.content.read(1), 0.3)
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()
        return t_headers, time.perf_counter() - t0

    t_headers, t_closed = serve(scenario, stall_s=0.5)
    assert t_headers < 0.25
    assert 0.45 <= t_closed < 3.0


# --- random faults ------------------------------------------------------------------------
def outcomes(seed: int, n: int = 200) -> tuple[list[str], str]:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[list[str], str]:
        seen = []
        for _ in range(n):
            try:
                async with s.post(f"{url}/chat/completions", json=chat_body()) as r:
                    await r.read()
                    seen.append(str(r.status))
            except aiohttp.ClientPayloadError:
                seen.append("cut/stall")
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                seen.append("reset")
        async with s.get(url.removesuffix("/v1") + "/metrics") as r:
            return seen, await r.text()

    return serve(scenario, error_rate=0.3, seed=seed, stall_s=0.0)


def test_error_rate_with_a_seed_is_reproducible_and_about_right() -> None:
    first, metrics = outcomes(seed=11)
    second, _ = outcomes(seed=11)
    assert first == second
    assert outcomes(seed=12)[0] != first
    failed = sum(o != "200" for o in first)
    assert 0.2 * len(first) <= failed <= 0.4 * len(first)
    assert {"500", "503", "429", "reset", "cut/stall"} <= set(first)
    assert f'nova_mock_requests_total{{outcome="ok"}} {len(first) - failed}' in metrics


def statuses(n: int, first: dict[str, Any] | None = None) -> Scenario[list[int]]:
    """A scenario: ``n`` chat requests, the first with ``mock=first``; their statuses."""

    async def scenario(url: str, s: aiohttp.ClientSession) -> list[int]:
        out = []
        for i in range(n):
            body = chat_body(mock=first) if i == 0 and first else chat_body()
            async with s.post(f"{url}/chat/completions", json=body) as r:
                out.append(r.status)
        return out

    return scenario


def test_fault_none_forces_success_and_keeps_the_sequence() -> None:
    settings = {"error_rate": 0.5, "seed": 1, "fault_mix": ["http_500"]}
    drawn = serve(statuses(30), **settings)
    forced = serve(statuses(30, first={"fault": "none"}), **settings)
    assert drawn[0] == 500  # seed 1: the first draw fails
    assert forced[0] == 200
    assert forced[1:] == drawn[1:]  # the override did not shift later draws
    assert 500 in drawn[1:] and 200 in drawn[1:]


# --- auth, models, health, metrics, bad requests ------------------------------------------
def test_api_key_is_required_when_set() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> list[Any]:
        out: list[Any] = []
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cr3t"}):
            async with s.post(f"{url}/chat/completions", json=chat_body(), headers=headers) as r:
                out.append((r.status, await r.json()))
        async with s.get(f"{url}/models") as r:
            out.append(r.status)
        async with s.get(url.removesuffix("/v1") + "/health") as r:
            out.append(r.status)
        return out

    missing, wrong, right, models, health = serve(scenario, require_api_key="s3cr3t")
    assert missing[0] == wrong[0] == 401
    assert missing[1]["error"]["code"] == "invalid_api_key"
    assert "Bearer" in missing[1]["error"]["message"]
    assert right[0] == 200 and right[1]["object"] == "chat.completion"
    assert (models, health) == (401, 200)


def test_models_health_and_metrics() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[Any, Any, str, str]:
        root = url.removesuffix("/v1")
        async with s.get(f"{url}/models") as r:
            models = await r.json()
        async with s.get(f"{root}/health") as r:
            health = await r.json()
        for fault in ("none", "none", "http_500"):
            async with s.post(f"{url}/chat/completions", json=chat_body(mock={"fault": fault})):
                pass
        async with s.post(f"{url}/chat/completions", data=b"{oops"):
            pass
        async with s.get(f"{root}/metrics") as r:
            return models, health, r.headers["Content-Type"], await r.text()

    models, health, ctype, metrics = serve(
        scenario, model="sophia-7b", max_model_len=4096, ttft_ms=25, fault_mix=["cut", "cut"]
    )
    assert [(m["id"], m["max_model_len"]) for m in models["data"]] == [("sophia-7b", 4096)]
    assert health == {"status": "ok"}
    assert ctype.startswith("text/plain; version=0.0.4")
    lines = set(metrics.splitlines())
    assert 'nova_mock_requests_total{outcome="ok"} 2' in lines
    assert 'nova_mock_requests_total{outcome="http_500"} 1' in lines
    assert 'nova_mock_requests_total{outcome="bad_request"} 1' in lines
    assert 'nova_mock_requests_total{outcome="reset"} 0' in lines
    assert "nova_mock_completion_tokens_total 32" in lines
    assert 'nova_mock_setting{name="ttft_ms"} 25.0' in lines
    assert any(
        line.startswith('nova_mock_info{model="sophia-7b",fault_mix="cut,cut"') for line in lines
    )


X = [{"role": "user", "content": "x"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{oops", "not valid JSON"),
        (b"[]", "JSON object"),
        ({"messages": []}, "'messages'"),
        ({"messages": X, "max_tokens": 0}, "max_tokens"),
        ({"messages": X, "stream": "yes"}, "'stream'"),
        ({"messages": X, "mock": {"fault": "boom"}}, "mock.fault"),
        ({"messages": X, "mock": {"typo": 1}}, "mock.typo"),
        ({"messages": X, "mock": 5}, "mock: Input should be"),
        # 3 prompt words + 8 > max_model_len 10
        ({"messages": [{"role": "user", "content": "a b c"}], "max_tokens": 8},
         "maximum context length is 10 tokens. However, you requested 11 tokens"),
    ],
)  # fmt: skip
def test_bad_requests_get_openai_style_400(body: bytes | dict[str, Any], message: str) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()

    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[int, Any]:
        async with s.post(f"{url}/chat/completions", data=data) as r:
            return r.status, await r.json()

    status, err = serve(scenario, max_model_len=10)
    assert status == 400
    assert message in err["error"]["message"]
    assert err["error"]["type"] == "invalid_request_error"


def test_unknown_path_and_wrong_method() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> list[Any]:
        async with s.get(f"{url}/completions") as r1, s.get(f"{url}/chat/completions") as r2:
            return [r1.status, r2.status, r2.headers["Allow"]]

    assert serve(scenario) == [404, 405, "POST"]


# --- the HTTP layer -----------------------------------------------------------------------
def raw_exchange(payload: bytes) -> bytes:
    """Send raw bytes to a fresh server and read until it closes the connection."""
    with running_mock_server(MockServerSettings(output_tokens=2, ttft_ms=20)) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(payload)
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
    return out


def test_pipelined_requests_are_answered_in_order() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    one = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
    last = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = raw_exchange(one % (len(body), body) * 2 + last)
    assert out.count(b"HTTP/1.1 200 OK") == 3
    assert out.index(b"chatcmpl-mock-1") < out.index(b"chatcmpl-mock-2") < out.index(b'"ok"')


def test_chunked_request_bodies_are_refused_with_a_clear_message() -> None:
    out = raw_exchange(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n"
    )
    assert out.startswith(b"HTTP/1.1 411 Length Required")
    assert b"Connection: close" in out and b"send Content-Length" in out


def test_http10_gets_close_delimited_answers_and_no_streaming() -> None:
    plain = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    head = b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n"
    out = raw_exchange(head % len(plain) + plain)
    assert out.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in out
    assert out.endswith(b"}")
    streamed = json.dumps({"messages": [{"role": "user", "content": "hi"}], "stream": True})
    out = raw_exchange(head % len(streamed) + streamed.encode())
    assert out.startswith(b"HTTP/1.1 400") and b"streaming needs HTTP/1.1" in out


def test_garbage_request_line_gets_400_and_close() -> None:
    assert raw_exchange(b"HELLO\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request")


def test_running_mock_server_in_a_thread_stops_cleanly() -> None:
    with (
        running_mock_server() as url,
        urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=5) as r,
    ):
        assert r.status == 200
    assert not any(t.name == "nova-mock-server" for t in threading.enumerate())
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=5)


def test_settings_only_allow_loopback_and_known_fields() -> None:
    for host in ("0.0.0.0", "192.168.1.5", "localhost", "::"):
        with pytest.raises(ValidationError, match="loopback"):
            MockServerSettings(host=host)
    assert MockServerSettings(host="127.0.0.2").host == "127.0.0.2"
    with pytest.raises(ValidationError):
        MockServerSettings.model_validate({"ttft": 5})  # a typo is an error, not a default
    with pytest.raises(ValidationError):
        MockServerSettings(fault_mix=[])
    with pytest.raises(ValidationError):
        MockServerSettings(error_rate=1.5)


# --- timing -------------------------------------------------------------------------------
@pytest.mark.integration
def test_timing_follows_ttft_and_itl() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[list[float], list[float]]:
        ttfts: list[float] = []
        gaps: list[float] = []
        body = chat_body(stream=True)
        for _ in range(20):
            t0 = time.perf_counter()
            times = []
            async with s.post(f"{url}/chat/completions", json=body) as r:
                async for line in r.content:
                    if b'"content"' in line:
                        times.append(time.perf_counter())
            assert len(times) == 6
            ttfts.append(times[0] - t0)
            gaps += [b - a for a, b in itertools.pairwise(times)]
        return ttfts, gaps

    ttfts, gaps = serve(scenario, ttft_ms=50, itl_ms=10, output_tokens=6)
    assert 0.0495 <= statistics.median(ttfts) <= 0.060, ttfts
    assert 0.009 <= statistics.median(gaps) <= 0.012, gaps


@pytest.mark.integration
def test_plain_answer_arrives_when_the_last_token_would_and_overrides_apply() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> list[float]:
        out = []
        for mock in ({}, {"ttft_ms": 0, "itl_ms": 0}):
            t0 = time.perf_counter()
            async with s.post(f"{url}/chat/completions", json=chat_body(mock=mock)) as r:
                await r.read()
            out.append(time.perf_counter() - t0)
        return out

    slow, fast = serve(scenario, ttft_ms=100, itl_ms=20, output_tokens=6)
    assert 0.200 <= slow < 0.5  # 100 + 5 * 20 ms
    assert fast < 0.1


# --- the CLI command ----------------------------------------------------------------------
CLI = "from nova.cli.mock_server import mock_server_command as c; c(prog_name='nova mock-server')"


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_the_url_serves_and_stops_cleanly_on_a_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "--output-tokens", "3", "--model", "m1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:\d+/v1", proc.stdout.readline())
        assert match, "no URL printed"
        req = urllib.request.Request(
            f"{match.group(0)}/chat/completions",
            data=json.dumps(chat_body()).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            data = json.load(r)
        assert data["model"] == "m1" and data["usage"]["completion_tokens"] == 3
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.integration
def test_cli_rejects_bad_settings_with_usage_errors() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", CLI, *args]
        env = {k: v for k, v in os.environ.items() if k != "NOVA_TEST_MOCK_KEY"}
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)

    bad_fault = run("--fault-mix", "http_429,boom")
    assert bad_fault.returncode == 2 and "unknown fault boom" in bad_fault.stderr
    public = run("--host", "0.0.0.0")
    assert public.returncode == 2 and "not a loopback" in public.stderr
    no_key = run("--require-api-key-env", "NOVA_TEST_MOCK_KEY")
    assert no_key.returncode == 2 and "export NOVA_TEST_MOCK_KEY" in no_key.stderr


def test_scripted_replies_plain_and_streamed() -> None:
    from nova.providers import MockScriptRule

    replies = [MockScriptRule(match="tarif", text="Ihr Tarif wurde umgestellt.")]
    with running_mock_server(MockServerSettings(script=replies, output_tokens=3)) as url:

        def post(body: dict[str, Any]) -> bytes:
            req = urllib.request.Request(
                f"{url}/chat/completions", json.dumps(body).encode(), method="POST",
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(req, timeout=10) as resp:
                return bytes(resp.read())

        msgs = [{"role": "user", "content": "Bitte den TARIF ändern"}]
        plain = json.loads(post({"model": "m", "messages": msgs}))
        assert plain["choices"][0]["message"]["content"] == "Ihr Tarif wurde umgestellt."
        assert plain["usage"]["completion_tokens"] == 4
        capped = json.loads(post({"model": "m", "messages": msgs, "max_tokens": 2}))
        assert capped["choices"][0]["message"]["content"] == "Ihr Tarif"
        assert capped["choices"][0]["finish_reason"] == "length"
        raw = post({"model": "m", "messages": msgs, "stream": True}).decode()
        deltas = [
            json.loads(line[6:])["choices"][0]["delta"].get("content", "")
            for line in raw.splitlines()
            if line.startswith("data: {") and '"choices":[{' in line
        ]
        assert "".join(deltas) == "Ihr Tarif wurde umgestellt."
        other = json.loads(post({"model": "m", "messages": [{"role": "user", "content": "Hi"}]}))
        assert other["choices"][0]["message"]["content"] == "Guten Tag und"  # the default answer
