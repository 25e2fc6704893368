"""A client that goes away in the middle of a stream (or before a plain answer): the request
is audited (499, ``client_disconnected``), its reservation settled, the upstream stream
closed, nothing is logged as a traceback, and the gateway goes on serving."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from tests._services import free_port
from tests.gateway.conftest import CHAT, Gw, make_config


@dataclass
class Upstream:
    """A slow OpenAI-compatible model server that records how each stream ended."""

    url: str
    ended: list[tuple[str, int]] = field(default_factory=list)
    """(``done`` or ``client_closed``, chunks sent) per stream."""


@pytest.fixture
def slow_upstream() -> Iterator[Upstream]:
    """40 one-token chunks, 50 ms apart (2 s for a whole answer); streams only."""
    loop = asyncio.new_event_loop()
    port = free_port()
    up = Upstream(f"http://127.0.0.1:{port}/v1")

    def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
        body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
        return f"data: {json.dumps(body)}\n\n".encode()

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        sent = 0
        try:
            await resp.write(chunk({"role": "assistant", "content": ""}))
            for _ in range(40):
                await resp.write(chunk({"content": "Wort "}))
                sent += 1
                await asyncio.sleep(0.05)
            await resp.write(chunk({}, "stop") + b"data: [DONE]\n\n")
        except (ConnectionError, asyncio.CancelledError):
            up.ended.append(("client_closed", sent))
            raise
        up.ended.append(("done", sent))
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, handler_cancellation=True)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield up
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def stream_then_leave(gw_url: str, key: str, *, chunks: int, reset: bool) -> bytes:
    """Start a streamed chat request, read until ``chunks`` content chunks arrived, then
    close the socket (with an RST when ``reset``)."""
    host, port = gw_url.removeprefix("http://").split(":")
    body = json.dumps({**CHAT, "stream": True, "max_tokens": 40}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection((host, int(port)), timeout=10)
    try:
        sock.sendall(head + body)
        got = b""
        while got.count(b"Wort") < chunks:
            data = sock.recv(65536)
            assert data, got
            got += data
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return got
    finally:
        sock.close()


def wait_for(what: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_client_leaving_mid_stream_is_audited_settled_and_closes_upstream(
    slow_upstream: Upstream,
    gw_factory: Callable[..., Gw],
    caplog: pytest.LogCaptureFixture,
    reset: bool,
) -> None:
    caplog.set_level("DEBUG")
    gw = gw_factory(make_config(slow_upstream.url))
    # Budget 90: a stream reserves 7 + 40 = 47, so a reservation left behind by the
    # request that was cut would refuse the next stream below (47 + 47 > 90).
    key = gw.key("app", budget_tokens=90)
    gw.reload_keys()
    key_id = key.split("_")[1]
    got = stream_then_leave(gw.url, key, chunks=3, reset=reset)
    assert b"HTTP/1.1 200" in got
    wait_for(lambda: len(gw.store.audit_entries()) == 1)
    rec = gw.store.audit_entries()[0].payload
    assert (rec["status"], rec["outcome"], rec["stream"]) == (499, "client_disconnected", True)
    streamed = rec["tokens"]["completion"]
    assert 3 <= streamed < 40
    # The upstream saw its client (the gateway) go away long before the 40th chunk.
    wait_for(lambda: len(slow_upstream.ended) == 1, 5.0)
    assert slow_upstream.ended[0][0] == "client_closed" and slow_upstream.ended[0][1] < 40
    # Settled: the tokens really used are counted, the rest of the reservation is free.
    wait_for(lambda: gw.store.api_keys()[-1].tokens_used > 0)
    rows = {k.id: k for k in gw.store.api_keys()}
    assert rows[key_id].tokens_used == rec["tokens"]["prompt"] + streamed
    assert gw.gateway.limits.used(key_id) == rows[key_id].tokens_used
    # The gateway keeps serving: the next stream fits the budget only if nothing is held.
    r = gw.chat(key=key, stream=True, max_tokens=40)
    assert r.status == 200 and r.events()[-1] == "[DONE]"
    assert gw.chat(stream=True).status == 200
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert 'nova_gateway_requests_total{candidate="primary-m",code="499"} 1.0' in text
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], caplog.text


def test_client_leaving_before_a_plain_answer_is_audited_as_499(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(ttft_ms=600, output_tokens=2)))
    host, port = gw.url.removeprefix("http://").split(":")
    body = json.dumps({**CHAT, "max_tokens": 2}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {gw.keys['app']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        time.sleep(0.2)  # the model server is still working on the answer
    wait_for(lambda: len(gw.store.audit_entries()) == 1)
    rec = gw.store.audit_entries()[0].payload
    assert (rec["status"], rec["outcome"], rec["stream"]) == (499, "client_disconnected", False)
    assert gw.chat().status == 200  # still serving
