"""The OpenAI-compatible adapter against small aiohttp servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from nova.config import Candidate
from nova.providers import (
    AuthError,
    BadRequestError,
    CandidateClient,
    ChatRequest,
    ContextLengthError,
    Message,
    ModelNotFoundError,
    RateLimiter,
    RateLimitError,
    ResponseCache,
    RetryPolicy,
    ServerError,
    StreamCutError,
    TimeoutError_,
    UnreachableError,
    create_provider,
)
from tests._services import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQ = ChatRequest(messages=[Message(role="user", content="Hallo")], max_tokens=8)


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


def cand(base_url: str, **provider: Any) -> Candidate:
    return Candidate.model_validate(
        {"id": "t", "model": "openai/m", "provider": {"base_url": base_url, **provider}}
    )


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> bytes:
    d = dict(delta)
    if content is not None:
        d["content"] = content
    body = {
        "id": "c1",
        "model": "served-m",
        "choices": [{"index": 0, "delta": d, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def sse(request: web.Request, parts: list[bytes], delay: float = 0.0) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for p in parts:
        if delay:
            await asyncio.sleep(delay)
        await resp.write(p)
    return resp


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_sse_edge_cases_role_chunk_keepalive_empty_delta_no_done() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(await request.json())
        return await sse(
            request,
            [
                b": keep-alive\n\n",
                chunk(role="assistant"),  # role-only first chunk
                chunk(""),  # empty delta
                b"data:" + chunk("Guten")[6:],  # no space after data:
                chunk(" Tag"),
                b'data: {"id":"c1","model":"served-m","choices":[{"index":0,"delta":{},'
                b'"finish_reason":"stop"}]}\r\n\r\n',
                # usage chunk (include_usage) and then the stream just ends: no [DONE]
                b'data: {"id":"c1","choices":[],'
                b'"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n',
            ],
            delay=0.01,
        )

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            r = await p.chat(REQ)
        assert r.text == "Guten Tag" and r.finish_reason == "stop"
        assert r.model_reported == "served-m"
        assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.source) == (
            3,
            2,
            "server",
        )
        t = r.timings
        assert len(t.chunk_times_ns) == 2  # only content-bearing chunks count
        assert t.t_send_ns < t.t_first_byte_ns < t.t_first_token_ns <= t.t_last_token_ns  # type: ignore[operator]
        # TTFT is the first *content* chunk, not the role chunk sent 2 chunks earlier.
        assert t.t_first_token_ns - t.t_first_byte_ns >= 15_000_000  # type: ignore[operator]
        assert seen[0]["stream_options"] == {"include_usage": True}
        assert seen[0]["model"] == "m" and seen[0]["max_tokens"] == 8

    run(go())


def test_server_rejecting_stream_options_gets_a_retry_without_it() -> None:
    bodies: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        if "stream_options" in body:
            return web.json_response(
                {"error": {"message": "Unrecognized field stream_options"}}, status=400
            )
        return await sse(request, [chunk("Hallo"), chunk(finish="stop"), b"data: [DONE]\n\n"])

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            r1 = await p.chat(REQ)
            r2 = await p.chat(REQ)
        assert r1.text == r2.text == "Hallo"
        assert r1.usage.source == "estimate" and r1.usage.completion_tokens == 1
        assert ["stream_options" in b for b in bodies] == [True, False, False]

    run(go())


def test_stream_cut_is_an_error_that_keeps_the_partial_text() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = await sse(request, [chunk(role="assistant"), chunk("Ich"), chunk(" helfe")])
        # (aiohttp drops bytes that arrive together with the close, so the cut comes later,
        # as it does when a real server dies mid-answer.)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()  # the server dies mid-answer
        return resp

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            with pytest.raises(StreamCutError) as info:
                await p.chat(REQ)
        assert info.value.partial_text == "Ich helfe"
        assert "candidate t" in str(info.value)

    run(go())


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "text"),
    [
        (401, {"error": {"message": "Incorrect API key"}}, {}, AuthError, "provider.api_key"),
        (
            404,
            {"error": {"message": "The model `m` does not exist"}},
            {},
            ModelNotFoundError,
            "check `model:`",
        ),
        (
            400,
            {"error": {"message": "This model's maximum context length is 4096 tokens"}},
            {},
            ContextLengthError,
            "context window exceeded",
        ),
        (400, {"error": {"message": "temperature must be <= 2"}}, {}, BadRequestError, "HTTP 400"),
        (
            429,
            {"error": {"message": "slow down"}},
            {"Retry-After": "2"},
            RateLimitError,
            "retry after 2 s",
        ),
        (503, {"error": {"message": "overloaded"}}, {}, ServerError, "HTTP 503"),
    ],
)
def test_http_errors_map_to_clear_nova_errors(
    status: int, body: dict[str, Any], headers: dict[str, str], error: type, text: str
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            with pytest.raises(error) as info:
                await p.chat(REQ)
        assert text in str(info.value)
        assert info.value.status == status
        if isinstance(info.value, RateLimitError):
            assert info.value.retry_after == 2.0

    run(go())


def test_unreachable_endpoint() -> None:
    async def go() -> None:
        url = f"http://127.0.0.1:{free_port()}/v1"
        async with create_provider(cand(url)) as p:
            with pytest.raises(UnreachableError, match="is the server running"):
                await p.chat(REQ)

    run(go())


def test_first_token_timeout() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse(
            request, [b": waiting\n\n", chunk("late"), chunk(finish="stop")], delay=0.4
        )

    async def go() -> None:
        async with (
            serve(handler) as url,
            create_provider(cand(url, first_token_timeout_s=0.2)) as p,
        ):
            with pytest.raises(TimeoutError_) as info:
                await p.chat(REQ)
        assert info.value.phase == "first_token"

    run(go())


def test_streamed_tool_calls_are_assembled() -> None:
    tc1 = {
        "index": 0,
        "id": "call_1",
        "function": {"name": "escalate_to_human", "arguments": '{"reason":'},
    }
    tc2 = {"index": 0, "function": {"arguments": ' "Beschwerde"}'}}

    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse(
            request,
            [
                chunk(tool_calls=[tc1]),
                chunk(tool_calls=[tc2]),
                chunk(finish="tool_calls"),
                b"data: [DONE]\n\n",
            ],
        )

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            r = await p.chat(REQ)
        (call,) = r.tool_calls
        assert call.name == "escalate_to_human" and call.id == "call_1"
        assert json.loads(call.arguments) == {"reason": "Beschwerde"}
        assert r.finish_reason == "tool_calls"

    run(go())


def test_retries_honour_retry_after_and_skip_non_retryable_errors() -> None:
    calls = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        if request.path.endswith("/bad/chat/completions"):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        if calls["n"] <= 2:
            return web.json_response(
                {"error": {"message": "busy"}}, status=429, headers={"Retry-After": "3"}
            )
        return await sse(request, [chunk("ok"), chunk(finish="stop")])

    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    async def go() -> None:
        async with serve(handler) as url:
            async with CandidateClient(
                create_provider(cand(url)), sleep=fake_sleep, retry=RetryPolicy(max_retries=3)
            ) as c:
                r = await c.chat(REQ)
            assert r.text == "ok" and r.attempts == 3 and slept == [3.0, 3.0]
            calls["n"] = 0
            slept.clear()
            async with CandidateClient(
                create_provider(cand(url + "/bad")),
                sleep=fake_sleep,
                retry=RetryPolicy(max_retries=3),
            ) as c:
                with pytest.raises(AuthError):
                    await c.chat(REQ)
            assert calls["n"] == 1 and slept == []

    run(go())


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    import random

    policy = RetryPolicy(base_delay_s=1, max_delay_s=5, jitter=0.25)
    err = ServerError("t", "x")
    rng = random.Random(1)
    delays = [policy.delay(a, err, rng) for a in (1, 2, 3, 4, 5)]
    for d, base in zip(delays, [1, 2, 4, 5, 5], strict=True):
        assert base * 0.75 <= d <= base * 1.25


def test_response_cache_hit_and_miss(tmp_path: Path) -> None:
    calls = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        return await sse(request, [chunk(f"Antwort {calls['n']}"), chunk(finish="stop")])

    async def go() -> None:
        cache = ResponseCache(tmp_path / "cache")
        async with serve(handler) as url:
            async with CandidateClient(create_provider(cand(url)), cache=cache) as c:
                a = await c.chat(REQ)
                b = await c.chat(REQ)
                other = await c.chat(REQ.model_copy(update={"temperature": 0.7}))
            assert (a.cached, b.cached, other.cached) == (False, True, False)
            assert a.text == b.text == "Antwort 1" and other.text == "Antwort 2"
            assert (cache.hits, cache.misses, calls["n"]) == (1, 2, 2)
            async with CandidateClient(create_provider(cand(url, cache=False)), cache=cache) as c:
                assert (await c.chat(REQ)).text == "Antwort 3"  # cache turned off

    run(go())


def test_azure_request_shape() -> None:
    seen: list[web.Request] = []
    bodies: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        bodies.append(await request.json())
        return web.json_response(
            {
                "id": "x",
                "model": "gpt-4o-2024-11-20",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hallo"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": 1},
            }
        )

    async def go() -> None:
        async with serve(handler) as url:
            endpoint = url.removesuffix("/v1")
            c = Candidate.model_validate(
                {
                    "id": "az",
                    "model": "azure/gpt-4o",
                    "provider": {
                        "base_url": endpoint,
                        "deployment": "sophia-gpt4o",
                        "api_version": "2024-10-21",
                        "api_key": "az-test-key-123",
                    },
                }
            )
            async with create_provider(c) as p:
                r = await p.chat(REQ.model_copy(update={"stream": False}))
        req = seen[0]
        assert req.path == "/openai/deployments/sophia-gpt4o/chat/completions"
        assert req.query["api-version"] == "2024-10-21"
        assert req.headers["api-key"] == "az-test-key-123"
        assert "Authorization" not in req.headers
        assert bodies[0]["stream"] is False and "stream_options" not in bodies[0]
        assert r.text == "Hallo" and r.usage.source == "server"
        assert r.model_reported == "gpt-4o-2024-11-20"

    run(go())


def test_rate_limiter_waits_for_the_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)

    async def go() -> None:
        lim = RateLimiter(rpm=2, tpm=None, clock=lambda: now[0])
        await lim.acquire(10)
        await lim.acquire(10)
        assert slept == []
        await lim.acquire(10)  # third request in the same minute waits 30 s for one token
        assert slept == [pytest.approx(30.0)]
        tl = RateLimiter(rpm=None, tpm=600, clock=lambda: now[0])
        await tl.acquire(600)
        await tl.acquire(300)  # needs 300 tokens at 10 tokens/s
        assert slept[-1] == pytest.approx(30.0)

    run(go())


def test_done_without_finish_reason_is_a_cut_not_a_success() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse(request, [chunk(role="assistant"), chunk("Ich"), b"data: [DONE]\n\n"])

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            with pytest.raises(StreamCutError, match="without a finish reason") as info:
                await p.chat(REQ)
        assert info.value.partial_text == "Ich"

    run(go())


def test_sse_parser_handles_any_split_of_the_byte_stream() -> None:
    from nova.providers._sse import iter_sse_data

    raw = (
        b': ping\r\n\r\ndata: {"a": 1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\n'
        b"data:[DONE]"
    )  # last event without the final blank line

    async def chunks(size: int) -> Any:
        for i in range(0, len(raw), size):
            yield raw[i : i + size]

    async def collect(size: int) -> list[str]:
        return [d async for d in iter_sse_data(chunks(size))]

    expected = ['{"a": 1}', "line1\nline2", "[DONE]"]
    for size in (1, 2, 3, 7, 64, len(raw)):
        assert run(collect(size)) == expected, size


def test_azure_without_endpoint_or_key_says_which_variable_to_set() -> None:
    c = Candidate.model_validate(
        {
            "id": "az",
            "model": "azure/gpt-4o",
            "provider": {"base_url": "", "deployment": "d", "api_version": "2024-10-21"},
        }
    )
    with pytest.raises(AuthError, match="AZURE_OPENAI_ENDPOINT"):
        run(create_provider(c).start())
    c = Candidate.model_validate(
        {
            "id": "az",
            "model": "azure/gpt-4o",
            "provider": {
                "base_url": "https://x.openai.azure.com",
                "deployment": "d",
                "api_version": "2024-10-21",
            },
        }
    )
    with pytest.raises(AuthError, match="AZURE_OPENAI_API_KEY"):
        run(create_provider(c).start())


def test_plain_request_sends_tool_calls_and_tool_choice_in_openai_shape() -> None:
    from nova.providers import ToolCall, ToolSpec

    bodies: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        return web.json_response(
            {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]},
            headers={"X-Request-Id": "up-1"},
        )

    req = ChatRequest(
        messages=[
            Message(role="user", content="Vertrag?"),
            Message(
                role="assistant",
                tool_calls=[ToolCall(id="c1", name="lookup", arguments='{"id": 7}')],
            ),
            Message(role="tool", content="läuft bis 2027", tool_call_id="c1"),
        ],
        tools=[ToolSpec(name="lookup")],
        tool_choice="lookup",
        stream=False,
    )

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            r = await p.chat(req)
            assert r.text == "ok" and r.request_id == "up-1"
            await p.chat(req.model_copy(update={"tool_choice": "required"}))

    run(go())
    msgs = bodies[0]["messages"]
    assert msgs[1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"id": 7}'},
            }
        ],
    }
    assert msgs[2] == {"role": "tool", "content": "läuft bis 2027", "tool_call_id": "c1"}
    assert bodies[0]["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert bodies[1]["tool_choice"] == "required"


def test_streams_ended_by_done_keep_their_connection_when_the_last_chunk_comes_later() -> None:
    peers: set[Any] = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        resp = await sse(request, [chunk("Hallo", finish="stop"), b"data: [DONE]\n\n"])
        await asyncio.sleep(0.01)  # the chunked body's last chunk a moment after [DONE]
        await resp.write_eof()
        return resp

    async def go() -> None:
        async with serve(handler) as url, create_provider(cand(url)) as p:
            for _ in range(3):  # chat() with stream=True reads the answer as a stream
                r = await p.chat(REQ.model_copy(update={"stream": True}))
                assert r.text == "Hallo"
                await asyncio.sleep(0.03)
            for _ in range(2):
                assert [d.text async for d in p.stream(REQ) if d.text] == ["Hallo"]
                await asyncio.sleep(0.03)
        assert len(peers) == 1  # one connection for all five answers

    run(go())
