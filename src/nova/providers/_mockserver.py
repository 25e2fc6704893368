"""nova's own OpenAI-compatible mock LLM server: the ground truth for latency benchmarks and
the fault injector for resilience tests. It listens on a loopback address only.

Endpoints: ``POST /v1/chat/completions`` (SSE streaming and plain JSON), ``GET /v1/models``,
``POST /v1/moderations`` (OpenAI-style), ``GET /health``, ``GET /metrics`` (Prometheus text:
nova_mock_* counters plus vLLM-named engine metrics, see ``_mockmetrics.py``). Any requested
model name is served.

Scripted answers (``script``): the first rule whose ``match`` regex is found in the last user
message answers with its ``text`` instead of the German-ish words (a classifier's ``unsafe\nS1``
for instance); one whitespace-led word is one token. On ``/v1/moderations`` an input is flagged
with the ``flag`` categories of every rule whose ``match`` it contains.

Answers are deterministic German-ish words; one word is one token is one SSE chunk. Prompt
tokens are the whitespace-separated words of all message contents (text parts of multi-part
contents included). A streamed answer starts with a role-only chunk at once (as vLLM sends it);
token ``k`` follows at ``ttft_ms + k * itl_ms`` after the request arrived. Every deadline is
scheduled on the event loop's clock from the request start, so lateness never accumulates:
a chunk goes out between 50 µs before and about 1 ms after its deadline (epoll wakes with
1 ms resolution).
A plain answer arrives when its last token would have: ``ttft_ms + (n - 1) * itl_ms``.
With ``ignore_eos`` true or absent an answer has exactly ``min(max_tokens, output_tokens)``
tokens; with ``ignore_eos: false`` it ends at a seeded random point in ``1..output_tokens``.

Faults (``error_rate`` draws them from ``fault_mix`` with ``random.Random(seed)``; the body
field ``mock``, e.g. ``{"mock": {"fault": "http_429"}}``, forces one for one request):

    http_500, http_503   an OpenAI-style error body, at once
    http_429             the same with ``Retry-After: <retry_after_s>``
    reset                the TCP connection is reset (RST) without a response
    cut                  streaming: half the token chunks, then the connection closes without
                         finish_reason or [DONE]; plain: half the body, then close
    stall                response headers, then nothing for ``stall_s``, then close

The HTTP layer is a small HTTP/1.1 server on ``asyncio.Protocol``: keep-alive, pipelined
requests answered in order, Content-Length request bodies only. Why not aiohttp.web: on a
2-core EPYC VM, aiohttp's client at concurrency 32 on the other core, a bare aiohttp.web
handler spent 0.22-0.25 ms of CPU per request: 3,800-4,100 requests/s with its core 85-90 %
busy when the machine was quiet, 1,600-2,100 when it was shared. This layer spends 0.10-0.12
ms, serves 4,100-6,300 requests/s with its core 45-75 % busy (the client is the limit), and
controls the wire exactly as the faults need (benchmarks/bench_mockserver.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import hmac
import importlib
import ipaddress
import itertools
import json
import random
import re
import signal
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from nova.errors import NotReadyError
from nova.providers._mockmetrics import VllmStyleMetrics

__all__ = [
    "ALL_FAULTS",
    "MockFault",
    "MockOverrides",
    "MockScriptRule",
    "MockServer",
    "MockServerSettings",
    "running_mock_server",
]

MockFault = Literal["http_500", "http_503", "http_429", "reset", "cut", "stall"]
ALL_FAULTS: tuple[MockFault, ...] = ("http_500", "http_503", "http_429", "reset", "cut", "stall")
_OUTCOMES = ("ok", *ALL_FAULTS, "unauthorized", "bad_request")

_ANSWER = (
    "Guten Tag und herzlich willkommen bei Sophia wie kann ich Ihnen heute helfen Ihr Vertrag "
    "läuft noch bis Ende des Monats danach verlängert er sich um ein weiteres Jahr viele Grüße"
)
_WORDS = _ANSWER.split()
# Token k of an answer is _WORDS[k % len(_WORDS)]; tokens after the first carry their leading
# space, as BPE tokens do. Pre-encoded as JSON strings: a chunk is built by concatenation.
_FIRST_JSON = json.dumps(_WORDS[0], ensure_ascii=False).encode()
_TOKEN_JSON = [json.dumps(" " + w, ensure_ascii=False).encode() for w in _WORDS]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024
_ROUTES = {"/v1/chat/completions": "POST", "/v1/models": "GET", "/health": "GET", "/metrics": "GET",
           "/v1/moderations": "POST"}  # fmt: skip
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 411: "Length Required", 413: "Content Too Large",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip
_JSON = "application/json"
_SSE = "text/event-stream"


class MockScriptRule(BaseModel):
    """A scripted answer: when ``match`` is found in the last user message, answer ``text``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    match: str = Field(min_length=1)
    """Regular expression, searched case-insensitively in the last user message (chat) or in
    the input (moderations)."""
    text: str | None = None
    """Chat answer for matching requests (None: this rule only flags moderations)."""
    flag: list[str] = Field(default_factory=list)
    """``/v1/moderations``: categories flagged for a matching input."""

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class MockServerSettings(BaseModel):
    """How the mock server behaves."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Address to listen on; only a loopback address (127.0.0.0/8 or ::1) is accepted."""
    port: int = Field(default=0, ge=0, le=65535)
    """TCP port; 0 picks a free one (``MockServer.url`` tells which)."""
    model: str = Field(default="nova-mock", min_length=1)
    """Model id that /v1/models lists and every answer reports."""
    max_model_len: int = Field(default=8192, ge=1)
    """Context window in tokens; prompt + max_tokens above it gets HTTP 400, as on vLLM."""
    ttft_ms: float = Field(default=0.0, ge=0)
    """Time from the complete request to the first content token."""
    itl_ms: float = Field(default=0.0, ge=0)
    """Time between successive content chunks (each chunk is exactly one token)."""
    output_tokens: int = Field(default=16, ge=1)
    """Tokens in an answer; a request's ``max_tokens`` caps it."""
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Fraction of chat requests that fail with a fault drawn from ``fault_mix``."""
    fault_mix: tuple[MockFault, ...] = Field(default=ALL_FAULTS, min_length=1)
    """Faults that failing requests draw from, uniformly (list one twice to weight it)."""
    retry_after_s: int = Field(default=1, ge=0)
    """Seconds in the ``Retry-After`` header of an ``http_429``."""
    stall_s: float = Field(default=30.0, ge=0)
    """How long a ``stall`` sends nothing after the headers before closing the connection."""
    seed: int = 0
    """Seed of every random draw: the same seed and request order give the same outcomes."""
    require_api_key: SecretStr | None = None
    """If set, /v1 requests without ``Authorization: Bearer <key>`` get HTTP 401."""
    script: list[MockScriptRule] = Field(default_factory=list)
    """Scripted answers and moderation flags, first matching rule wins (see the module doc)."""
    request_log: Path | None = None
    """If set, one JSON line per chat request (id, last user message, fault) is appended to
    this file: the proof of which prompts reached the server."""

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        try:
            ok = ipaddress.ip_address(value).is_loopback
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{value!r} is not a loopback IP address: the mock server listens only on "
                "this machine (use 127.0.0.1 or ::1)"
            )
        return value


class MockOverrides(BaseModel):
    """Per-request overrides in the body field ``mock``, e.g. ``{"mock": {"fault": "cut"}}``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    fault: Literal["none", "http_500", "http_503", "http_429", "reset", "cut", "stall"] | None = (
        None
    )
    """Force this fault, or ``none`` to force success; the random draw happens regardless."""
    ttft_ms: float | None = Field(default=None, ge=0)
    """Time to the first token for this request."""
    itl_ms: float | None = Field(default=None, ge=0)
    """Time between chunks for this request."""
    output_tokens: int | None = Field(default=None, ge=1)
    """Answer length for this request (``max_tokens`` still caps it)."""
    stall_s: float | None = Field(default=None, ge=0)
    """Stall duration for this request."""
    retry_after_s: int | None = Field(default=None, ge=0)
    """Retry-After seconds for this request."""


# --- HTTP/1.1 layer -------------------------------------------------------------------------
class _HttpError(Exception):
    """A request that cannot be parsed; answered with ``status``, then the connection closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Request:
    __slots__ = ("body", "headers", "http11", "keep_alive", "method", "path", "t0")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.http11 = self.keep_alive = True
        self.t0 = 0.0


_EARLY = 0.0005  # seconds; half of epoll's 1 ms timeout granularity


class _Job:
    """The timed writes of one response; afterwards the connection is kept or closed."""

    __slots__ = ("conn", "i", "keep_alive", "writes")

    def __init__(self, conn: _Conn, writes: list[tuple[float, bytes]], keep_alive: bool) -> None:
        self.conn, self.writes, self.keep_alive, self.i = conn, writes, keep_alive, 0
        self.step()

    def step(self) -> None:
        conn = self.conn
        conn.timer = None
        if conn.closed:
            return
        # Timers fire up to 1 ms late (epoll rounds its timeout up to whole milliseconds), so
        # they are set _EARLY ahead and everything due within _EARLY goes out now: each write
        # lands within ±0.5 ms of its deadline, centred on it, instead of 0..1 ms late.
        now = conn.loop.time() + _EARLY
        writes, i = self.writes, self.i
        out = []
        while i < len(writes) and writes[i][0] <= now:
            out.append(writes[i][1])
            i += 1
        self.i = i
        if out:
            conn.transport.write(b"".join(out))
        if i < len(writes):
            conn.timer = conn.loop.call_at(writes[i][0] - _EARLY, self.step)
        else:
            conn.finish(self.keep_alive)


class _Conn(asyncio.Protocol):
    """One client connection: parses requests in order and answers one at a time."""

    transport: asyncio.Transport

    def __init__(self, server: MockServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server, self.loop = server, loop
        self.buf = bytearray()
        self.busy = self.closed = self.paused = self.in_next = self.continued = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server._conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server._conns.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()
        elif len(self.buf) > _MAX_HEAD + _MAX_BODY and not self.paused:
            self.paused = True  # a client pipelining far ahead: stop reading until caught up
            self.transport.pause_reading()

    def _next(self) -> None:
        self.in_next = True
        try:
            while not self.busy and not self.closed:
                try:
                    req = self._parse()
                except _HttpError as exc:
                    self.respond(exc.status, _error(str(exc)), keep_alive=False)
                    break
                if req is None:
                    break
                self.busy = True
                req.t0 = self.loop.time()
                self.server._dispatch(self, req)
        finally:
            self.in_next = False
        if self.paused and len(self.buf) < _MAX_HEAD and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def _parse(self) -> _Request | None:
        buf = self.buf
        while buf.startswith(b"\r\n"):  # stray line ends between requests are allowed
            del buf[:2]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > _MAX_HEAD:
                raise _HttpError(431, "request headers larger than 64 KiB")
            return None
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
            raise _HttpError(400, f"malformed request line {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            key, value = name.lower(), value.strip()
            if not sep or not name or name != name.strip():
                raise _HttpError(400, f"malformed header line {line[:80]!r}")
            if key == "content-length" and headers.get(key, value) != value:
                raise _HttpError(400, "conflicting Content-Length headers")
            headers[key] = value
        if "transfer-encoding" in headers:
            raise _HttpError(411, "chunked request bodies are not supported: send Content-Length")
        size = headers.get("content-length")
        if size is None and parts[0] in ("POST", "PUT", "PATCH"):
            raise _HttpError(411, "a request body needs a Content-Length header")
        if size is not None and not size.isdigit():
            raise _HttpError(400, f"invalid Content-Length {size[:40]!r}")
        length = int(size or 0)
        if length > _MAX_BODY:
            raise _HttpError(413, "request body larger than 16 MiB")
        if len(buf) < end + 4 + length:
            if headers.get("expect", "").lower() == "100-continue" and not self.continued:
                self.continued = True
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        req = _Request(parts[0], parts[1], headers, bytes(buf[end + 4 : end + 4 + length]))
        del buf[: end + 4 + length]
        self.continued = False
        conn = headers.get("connection", "").lower()
        req.http11 = parts[2] == "HTTP/1.1"
        req.keep_alive = "close" not in conn if req.http11 else "keep-alive" in conn
        return req

    def head(self, status: int, ctype: str, length: int | None, keep: bool, extra: str) -> bytes:
        """Status line and headers; ``length`` None means a chunked body."""
        framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
        close = "" if keep else "Connection: close\r\n"
        return (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\nServer: nova-mock\r\n"
            f"Date: {_http_date(int(time.time()))}\r\nContent-Type: {ctype}\r\n{framing}\r\n"
            f"{close}{extra}\r\n"
        ).encode("latin-1")

    def respond(
        self, status: int, body: bytes, *, keep_alive: bool, extra: str = "", ctype: str = _JSON
    ) -> None:
        self.transport.write(self.head(status, ctype, len(body), keep_alive, extra) + body)
        self.finish(keep_alive)

    def finish(self, keep_alive: bool) -> None:
        """The current response is complete: read the next request, or close."""
        if not keep_alive:
            self.closed = True
            self.transport.close()  # sends what is buffered, then FIN
            return
        self.busy = False
        if not self.in_next and self.buf:
            self._next()

    def reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0) rather than an orderly FIN."""
        self.closed = True
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


@functools.lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)


def _error(message: str, kind: str = "invalid_request_error", code: str | None = None) -> bytes:
    """OpenAI-style error body."""
    err = {"message": message, "type": kind, "param": None, "code": code}
    return json.dumps({"error": err}).encode()


def _chunk(data: bytes) -> bytes:
    """One SSE event as one HTTP chunk."""
    return b"%x\r\ndata: %s\n\n\r\n" % (len(data) + 8, data)


class _BadRequest(Exception):
    pass


# --- the OpenAI-compatible server -----------------------------------------------------------
class MockServer:
    """The mock server: ``await start()`` returns its base URL, ``await stop()`` ends it.

    Synchronous code (tests, scripts) uses :func:`running_mock_server`; the CLI uses
    :meth:`run_forever`.
    """

    def __init__(self, settings: MockServerSettings | None = None) -> None:
        self.settings = s = settings or MockServerSettings()
        self._rng = random.Random(s.seed)  # faults
        self._eos_rng = random.Random(f"{s.seed}:eos")  # answer lengths when ignore_eos is false
        self._ids = itertools.count(1)
        self._counts: Counter[str] = Counter()
        self._log: TextIO | None = (
            s.request_log.open("a", encoding="utf-8") if s.request_log is not None else None
        )
        self._tokens = 0
        self._engine = VllmStyleMetrics()
        self._conns: set[_Conn] = set()
        self._server: asyncio.Server | None = None
        self._url: str | None = None
        self._created = int(time.time())
        self._model_json = json.dumps(s.model).encode()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123/v1``."""
        if self._url is None:
            raise NotReadyError("the mock server is not running: await start() first")
        return self._url

    async def start(self) -> str:
        """Listen; return the base URL."""
        if self._server is None:
            loop = asyncio.get_running_loop()
            s = self.settings
            self._server = await loop.create_server(
                lambda: _Conn(self, loop), s.host, s.port, backlog=1024
            )
            port = self._server.sockets[0].getsockname()[1]
            host = f"[{s.host}]" if ":" in s.host else s.host
            self._url = f"http://{host}:{port}/v1"
        return self.url

    async def stop(self) -> None:
        """Stop listening and drop every open connection (answers in flight are cut)."""
        if self._server is None:
            return
        self._server.close()
        for conn in list(self._conns):
            if conn.timer is not None:
                conn.timer.cancel()
            conn.closed = True
            conn.transport.abort()
        await self._server.wait_closed()
        await asyncio.sleep(0)  # let connection_lost callbacks run before the loop may close
        self._server = self._url = None
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> MockServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def run_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until SIGINT or SIGTERM (main thread only); ``on_ready`` gets the base URL."""
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(self._serve(on_ready))

    async def _serve(self, on_ready: Callable[[str], None] | None) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        url = await self.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            if on_ready is not None:
                on_ready(url)
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.stop()

    # --- routing --------------------------------------------------------------------------
    def _dispatch(self, conn: _Conn, req: _Request) -> None:
        path, keep = req.path.partition("?")[0], req.keep_alive
        want = _ROUTES.get(path)
        if want is None:
            conn.respond(404, _error(f"no route {path!r}", code="not_found"), keep_alive=keep)
        elif req.method != want:
            err = _error(f"{req.method} not allowed on {path}; use {want}")
            conn.respond(405, err, keep_alive=keep, extra=f"Allow: {want}\r\n")
        elif path == "/health":
            conn.respond(200, b'{"status":"ok"}', keep_alive=keep)
        elif path == "/metrics":
            ctype = "text/plain; version=0.0.4; charset=utf-8"
            conn.respond(200, self._metrics().encode(), keep_alive=keep, ctype=ctype)
        elif not self._authorized(req):
            if path == "/v1/chat/completions":
                self._counts["unauthorized"] += 1
            err = _error("Incorrect API key provided: send Authorization: Bearer <key>",
                         code="invalid_api_key")  # fmt: skip
            conn.respond(401, err, keep_alive=keep)
        elif path == "/v1/models":
            conn.respond(200, self._models(), keep_alive=keep)
        elif path == "/v1/moderations":
            self._moderate(conn, req)
        else:
            self._chat(conn, req)

    def _authorized(self, req: _Request) -> bool:
        key = self.settings.require_api_key
        if key is None:
            return True
        got = req.headers.get("authorization", "").encode()
        return hmac.compare_digest(got, f"Bearer {key.get_secret_value()}".encode())

    def _models(self) -> bytes:
        s = self.settings
        card = {"id": s.model, "object": "model", "created": self._created, "owned_by": "nova",
                "root": s.model, "max_model_len": s.max_model_len}  # fmt: skip
        return json.dumps({"object": "list", "data": [card]}).encode()

    def _metrics(self) -> str:
        s = self.settings
        lines = [
            "# HELP nova_mock_requests_total Chat completion requests by outcome.",
            "# TYPE nova_mock_requests_total counter",
            *(f'nova_mock_requests_total{{outcome="{o}"}} {self._counts[o]}' for o in _OUTCOMES),
            "# HELP nova_mock_completion_tokens_total Tokens of the answers that succeeded.",
            "# TYPE nova_mock_completion_tokens_total counter",
            f"nova_mock_completion_tokens_total {self._tokens}",
            "# HELP nova_mock_open_connections Client connections open now.",
            "# TYPE nova_mock_open_connections gauge",
            f"nova_mock_open_connections {len(self._conns)}",
            "# HELP nova_mock_setting Configured numeric settings.",
            "# TYPE nova_mock_setting gauge",
        ]
        for name in ("ttft_ms", "itl_ms", "output_tokens", "error_rate", "retry_after_s",
                     "stall_s", "seed", "max_model_len"):  # fmt: skip
            lines.append(f'nova_mock_setting{{name="{name}"}} {getattr(s, name)}')
        labels = {"model": s.model, "fault_mix": ",".join(s.fault_mix),
                  "require_api_key": str(s.require_api_key is not None).lower()}  # fmt: skip
        info = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines += [
            "# HELP nova_mock_info Configured model, fault mix and whether a key is required.",
            "# TYPE nova_mock_info gauge",
            f"nova_mock_info{{{info}}} 1",
        ]
        # Chat requests in progress: busy connections except the one asking for /metrics.
        running = max(0, sum(1 for c in self._conns if c.busy) - 1)
        lines += self._engine.render(s.model, running)
        return "\n".join(lines) + "\n"

    # --- chat completions -----------------------------------------------------------------
    def _chat(self, conn: _Conn, req: _Request) -> None:
        s, keep, t0 = self.settings, req.keep_alive, req.t0
        rid = f"chatcmpl-mock-{next(self._ids)}"
        extra = f"x-request-id: {req.headers.get('x-request-id') or rid}\r\n"
        try:
            try:
                body = json.loads(req.body)
            except ValueError as exc:
                raise _BadRequest(f"the request body is not valid JSON: {exc}") from None
            if not isinstance(body, dict):
                raise _BadRequest("the request body must be a JSON object")
            ov = MockOverrides.model_validate(body.get("mock") or {})
            scripted = self._scripted(body)
            stream, include_usage, n, finish, prompt_tokens = self._plan(body, ov, scripted)
            if stream and not req.http11:
                raise _BadRequest("streaming needs HTTP/1.1 (chunked transfer encoding)")
        except (_BadRequest, ValidationError) as exc:
            self._counts["bad_request"] += 1
            msg = _validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
            conn.respond(400, _error(msg), keep_alive=keep, extra=extra)
            return

        failing = self._rng.random() < s.error_rate  # drawn even when overridden: same sequence
        fault: MockFault | None = self._rng.choice(s.fault_mix) if failing else None
        if ov.fault is not None:
            fault = None if ov.fault == "none" else ov.fault
        self._counts[fault or "ok"] += 1
        if self._log is not None:
            msgs = body.get("messages") or []
            last = next(
                (
                    m.get("content")
                    for m in reversed(msgs)
                    if isinstance(m, dict) and m.get("role") == "user"
                ),
                None,
            )
            self._log.write(
                json.dumps({"id": rid, "last_user": last, "fault": fault}, ensure_ascii=False)
                + "\n"
            )
            self._log.flush()
        if fault in ("http_500", "http_503", "http_429"):
            if fault == "http_429":
                ra = s.retry_after_s if ov.retry_after_s is None else ov.retry_after_s
                extra += f"Retry-After: {ra}\r\n"
                err = _error(f"Rate limit reached (nova mock fault http_429); retry after {ra} s",
                             "rate_limit_error", "rate_limit_exceeded")  # fmt: skip
            else:
                err = _error(f"Server error (nova mock fault {fault})", "server_error")
            conn.respond(int(fault[5:]), err, keep_alive=keep, extra=extra)
            return
        if fault == "reset":
            conn.reset()
            return
        if fault is None:
            self._tokens += n
        ttft = (s.ttft_ms if ov.ttft_ms is None else ov.ttft_ms) / 1000
        itl = (s.itl_ms if ov.itl_ms is None else ov.itl_ms) / 1000
        if fault is None:  # as the engine sees it: first token, last token, tokens
            self._engine.observe(ttft, ttft + max(n - 1, 0) * itl, prompt_tokens, n, finish)
        if not stream:
            data = self._body(rid, n, finish, prompt_tokens, scripted)
            head = conn.head(200, _JSON, len(data), keep, extra)
            if fault == "stall":
                stall = s.stall_s if ov.stall_s is None else ov.stall_s
                _Job(conn, [(t0, head), (t0 + stall, b"")], keep_alive=False)
            else:
                cut = fault == "cut"
                data = data[: len(data) // 2] if cut else data
                _Job(conn, [(t0 + ttft + (n - 1) * itl, head + data)], keep_alive=keep and not cut)
            return
        head = conn.head(200, _SSE, None, keep, extra + "Cache-Control: no-cache\r\n")
        if fault == "stall":
            stall = s.stall_s if ov.stall_s is None else ov.stall_s
            _Job(conn, [(t0, head), (t0 + stall, b"")], keep_alive=False)
            return
        pre = b'{"id":"%s","object":"chat.completion.chunk","created":%d,"model":%s,"choices":' % (
            rid.encode(), int(time.time()), self._model_json)  # fmt: skip
        role = b'[{"index":0,"delta":{"role":"assistant"},"logprobs":null,"finish_reason":null}]}'
        writes = [(t0, head + _chunk(pre + role))]
        sent = n // 2 if fault == "cut" else n
        for k in range(sent):
            fin = b'"%s"' % finish.encode() if k == n - 1 else b"null"
            if scripted is not None:
                tok = json.dumps(scripted[k], ensure_ascii=False).encode()
            else:
                tok = _FIRST_JSON if k == 0 else _TOKEN_JSON[k % len(_WORDS)]
            data = _chunk(pre + b'[{"index":0,"delta":{"content":%s},"logprobs":null,'
                          b'"finish_reason":%s}]}' % (tok, fin))  # fmt: skip
            writes.append((t0 + ttft + k * itl, data))
        if fault == "cut":  # the connection drops when the next token would have come
            writes.append((t0 + ttft + sent * itl, b""))
            _Job(conn, writes, keep_alive=False)
            return
        tail = b""
        if include_usage:
            usage = b'{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}' % (
                prompt_tokens, n, prompt_tokens + n)  # fmt: skip
            tail = _chunk(pre + b'[],"usage":%s}' % usage)
        t_last, last = writes[-1]
        writes[-1] = (t_last, last + tail + _chunk(b"[DONE]") + b"0\r\n\r\n")
        _Job(conn, writes, keep_alive=keep)

    def _scripted(self, body: dict[str, Any]) -> list[str] | None:
        """Tokens of the scripted answer for this request, or None (the usual words)."""
        if not self.settings.script:
            return None
        messages = body.get("messages")
        last = ""
        if isinstance(messages, list):
            for m in reversed(messages):
                if isinstance(m, dict) and m.get("role") == "user":
                    content = m.get("content")
                    last = content if isinstance(content, str) else ""
                    break
        for rule in self.settings.script:
            if rule.text is not None and re.search(rule.match, last, re.IGNORECASE):
                return re.findall(r"\s*\S+", rule.text) or [""]
        return None

    def _moderate(self, conn: _Conn, req: _Request) -> None:
        """OpenAI-style moderation: flagged by the ``flag`` categories of matching rules."""
        keep = req.keep_alive
        try:
            body = json.loads(req.body)
            inputs = body["input"]
        except (ValueError, KeyError, TypeError):
            conn.respond(400, _error("send a JSON object with 'input'"), keep_alive=keep)
            return
        results = []
        for text in inputs if isinstance(inputs, list) else [inputs]:
            cats = {
                c: True
                for rule in self.settings.script
                if isinstance(text, str) and re.search(rule.match, text, re.IGNORECASE)
                for c in rule.flag
            }
            results.append({"flagged": bool(cats), "categories": cats,
                            "category_scores": dict.fromkeys(cats, 0.99)})  # fmt: skip
        out = {"id": f"modr-mock-{next(self._ids)}", "model": body.get("model") or
               self.settings.model, "results": results}  # fmt: skip
        conn.respond(200, json.dumps(out, ensure_ascii=False).encode(), keep_alive=keep)

    def _plan(
        self, body: dict[str, Any], ov: MockOverrides, scripted: list[str] | None = None
    ) -> tuple[bool, bool, int, str, int]:
        """stream, include_usage, tokens to send, finish_reason, prompt tokens."""
        s = self.settings
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("'messages' must be a non-empty list")
        prompt_tokens = 0
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise _BadRequest(f"messages[{i}] must be an object")
            content = m.get("content")
            parts = content if isinstance(content, list) else [{"text": content}]
            for part in parts:
                text = part.get("text") if isinstance(part, dict) else None
                prompt_tokens += len(text.split()) if isinstance(text, str) else 0
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise _BadRequest("'stream' must be true or false")
        opts = body.get("stream_options") or {}
        if not isinstance(opts, dict):
            raise _BadRequest("'stream_options' must be an object")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is not None and (
            not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
        ):
            raise _BadRequest("'max_tokens' must be a positive integer")
        asked = prompt_tokens + (max_tokens or 0)
        if asked > s.max_model_len:
            raise _BadRequest(
                f"This model's maximum context length is {s.max_model_len} tokens. However, you "
                f"requested {asked} tokens ({prompt_tokens} in the messages, {max_tokens or 0} "
                "in the completion). Please reduce the length of the messages or completion."
            )
        natural = s.output_tokens if ov.output_tokens is None else ov.output_tokens
        if scripted is not None:
            natural = len(scripted)
        elif body.get("ignore_eos", True) is False:
            natural = self._eos_rng.randint(1, natural)
        n = natural if max_tokens is None else min(max_tokens, natural)
        finish = "length" if n < natural else "stop"
        return stream, stream and bool(opts.get("include_usage")), n, finish, prompt_tokens

    def _body(
        self, rid: str, n: int, finish: str, prompt_tokens: int, scripted: list[str] | None = None
    ) -> bytes:
        text = "".join(scripted[:n]).strip() if scripted is not None else _answer_text(n)
        msg = {"role": "assistant", "content": text}
        out = {
            "id": rid, "object": "chat.completion", "created": int(time.time()),
            "model": self.settings.model,
            "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n,
                      "total_tokens": prompt_tokens + n},
        }  # fmt: skip
        return json.dumps(out, ensure_ascii=False).encode()


@functools.lru_cache(maxsize=256)
def _answer_text(n: int) -> str:
    return " ".join(_WORDS[k % len(_WORDS)] for k in range(n))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, ('mock', *e['loc'])))}: {e['msg']}" for e in exc.errors())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop when it is installed (it is optional), else asyncio's."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.new_event_loop
    return cast(Callable[[], asyncio.AbstractEventLoop], uvloop.new_event_loop)


@contextlib.contextmanager
def running_mock_server(settings: MockServerSettings | None = None) -> Iterator[str]:
    """Run a mock server in a background thread with its own event loop; yield its base URL.

    >>> with running_mock_server(MockServerSettings(output_tokens=2)) as base_url:
    ...     base_url.startswith("http://127.0.0.1:")
    True
    """
    loop = _loop_factory()()
    server = MockServer(settings)
    thread = threading.Thread(target=loop.run_forever, name="nova-mock-server", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
    finally:
        try:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
