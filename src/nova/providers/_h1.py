"""A small HTTP/1.1 client for the requests nova sends to a model server: a POST of a JSON
body to one URL, its answer read whole (``post``) or as it arrives (``stream``: server-sent
events), on kept-alive connections.

Why not aiohttp's client for this: measured on this machine against nova's mock server, one
plain request cost about 201 us of CPU through ``aiohttp.ClientSession.post`` and 66 us
through this pool (``benchmarks/bench_h1.py``, 2026-11-30; README "Benchmarks"); in front of
a model server (the gateway, about 1 ms of CPU per request then) that was a large share.
Responses are parsed by llhttp through ``httptools`` (the parser uvicorn uses): nova writes
the request line and headers (validated once, when the pool is made) and never parses HTTP
itself.

GETs (``/models``) stay on aiohttp. Like aiohttp's client, a POST is never
retried automatically (a server might have acted on it); idle connections are dropped after
``idle_s`` (below the 5 s keep-alive of uvicorn/vLLM and llama.cpp's server) so that a server's
close of an idle connection rarely meets a new request.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import httptools

__all__ = [
    "H1BodyError",
    "H1ConnectError",
    "H1ConnectTimeout",
    "H1Disconnected",
    "H1Error",
    "H1Pool",
    "H1Response",
    "H1Stream",
]

_HIGH_WATER = 256 * 1024
"""Bytes of a stream's body buffered before the connection stops reading (until the reader
takes them)."""
_DRAIN_S = 1.0
"""How long a stream whose reader saw the answer's end (``H1Stream.ended``) may take to send
the rest of its body before the connection is closed instead of kept."""
_DRAIN_BYTES = 64 * 1024
"""How many more body bytes such a stream may send (they are read and dropped)."""
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


class H1Error(Exception):
    """A request that got no complete response."""


class H1ConnectError(H1Error):
    """No connection could be opened (refused, DNS, TLS handshake, ...)."""


class H1ConnectTimeout(H1Error):
    """Opening the connection took longer than ``connect_timeout_s``."""


class H1Disconnected(H1Error):
    """The connection closed before the response's status line arrived."""


class H1BodyError(H1Error):
    """The response started but could not be read whole (cut, malformed, too large)."""


class _Headers(dict[str, str]):
    """Response headers, names lower-cased; ``get`` ignores the case of the name asked for.
    Repeated headers are joined with ", " (RFC 9110 5.3)."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)


class H1Response:
    """A whole response: status, headers and body."""

    __slots__ = ("body", "headers", "status", "t_headers_ns")

    def __init__(self, status: int, headers: _Headers, body: bytes, t_headers_ns: int) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.t_headers_ns = t_headers_ns
        """``time.perf_counter_ns()`` when the status line and headers had arrived."""

    def text(self, errors: str = "strict") -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors)


class H1Stream:
    """A response whose body is read as it arrives. The connection goes back to the pool
    when the body was read to its end (or, after ``ended``, once its rest has arrived), and
    is closed when the stream is closed before: the server sees the client leave."""

    def __init__(self, pool: H1Pool, conn: _Conn) -> None:
        self._pool: H1Pool | None = pool
        self._conn = conn
        self._ended = False
        self.status: int = conn.status
        self.headers: _Headers = conn.headers
        self.t_headers_ns: int = conn.t_headers
        """``time.perf_counter_ns()`` when the status line and headers had arrived."""

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (any split), until the body's end."""
        while data := await self._conn.next():
            yield data

    async def read(self, limit: int | None = None) -> bytes:
        """The rest of the body, or its first ``limit`` bytes (the rest is then left unread
        and the connection closed at ``close``). A stream's body has no size limit of its
        own (``max_body`` bounds only what is unread): give ``limit`` for one of unknown
        size."""
        parts: list[bytes] = []
        n = 0
        async for d in self.iter_any():
            parts.append(d)
            n += len(d)
            if limit is not None and n >= limit:
                break
        data = b"".join(parts)
        return data if limit is None else data[:limit]

    async def text(self, errors: str = "strict", limit: int | None = None) -> str:
        """The rest of the body (or its first ``limit`` bytes) decoded as UTF-8."""
        return (await self.read(limit)).decode("utf-8", errors)

    def ended(self) -> None:
        """The reader saw the answer's end (an SSE ``[DONE]``) before the body's: at close,
        the rest of the body (the chunked encoding's last chunk, which servers such as
        uvicorn send a moment later) is read in the background and the connection goes back
        to the pool then (closed if that takes over ``_DRAIN_S`` or ``_DRAIN_BYTES``)."""
        self._ended = True

    def close(self) -> None:
        """Hand the connection back (body read whole), let it finish the body (``ended``),
        or close it."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        conn = self._conn
        if self._ended and not conn.complete and conn.error is None and not conn.lost:
            conn.drain()
            return
        conn.busy = False
        done = conn.complete and conn.error is None and not conn.chunks
        pool._release(conn, keep=done and conn.keep_alive)

    async def __aenter__(self) -> H1Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Dropped without close(): close the connection; its connection_lost frees the slot.
        if self._pool is not None:
            with contextlib.suppress(Exception):  # the event loop may be closed already
                self._conn._close()


class _Conn(asyncio.Protocol):
    """One connection; at most one request at a time."""

    def __init__(self, pool: H1Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.busy = False
        self.lost = False
        self.idle_since = 0.0
        self._new_response()

    def _new_response(self, *, streaming: bool = False) -> None:
        self.streaming = streaming
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.status = 0
        self.headers = _Headers()
        self.chunks: list[bytes] = []
        self.size = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.error: H1Error | None = None
        self.t_headers = 0
        self.taken = 0
        self.draining = False
        self.drain_timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.complete:
            # Bytes nobody asked for (after a complete response): the connection's state is
            # unknown, so it is not used again.
            self._close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if self.complete:  # a second response nobody asked for: keep the first, not the
                self._close()  # connection
                return
            # A callback raised: the error it set (a body over the limit) is the reason.
            self._fail(self.error or H1BodyError(f"response rejected: {exc.__context__ or exc}"))
        except httptools.HttpParserUpgrade:
            self._fail(H1BodyError("the server switched protocols (HTTP upgrade)"))
        except httptools.HttpParserError as exc:
            self._fail(H1BodyError(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.drain_timer is not None:
            self.drain_timer.cancel()
        self.pool._discard(self)
        if not self.busy or self.complete or self.error is not None:
            return
        if self.headers_done and self._until_close() and exc is None:
            self._finish(keep_alive=False)  # the body ends where the connection does
        elif self.headers_done:
            why = f": {exc}" if exc else ""
            self._fail(H1BodyError(f"connection closed after {self.size} body bytes{why}"))
        else:
            why = f": {exc}" if exc else " by the server"
            self._fail(H1Disconnected(f"connection closed before a response{why}"))

    # --- httptools callbacks --------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.complete:
            raise H1BodyError("more bytes after the response")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self.headers.get(key)
        self.headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.t_headers = time.perf_counter_ns()
        self.headers_done = True
        if self.streaming and not 100 <= self.status < 200:
            self._wake()  # a stream's caller gets the response as soon as its head is here

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.draining:  # nobody reads it any more
            if self.size - self.taken > _DRAIN_BYTES:
                self._close()
            return
        # A whole body is held at once; a stream only holds what its reader has not taken.
        if self.size - self.taken > self.pool.max_body:
            self.error = H1BodyError(
                f"response body larger than {self.pool.max_body} bytes; not read further"
            )
            raise self.error
        self.chunks.append(body)
        if self.streaming:
            if self.size - self.taken > _HIGH_WATER and not self.paused:
                self.paused = True  # the reader is behind: let TCP hold the rest
                assert self.transport is not None
                self.transport.pause_reading()
            self._wake()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim response (100 Continue): the real one follows
            self.headers, self.headers_done, self.status = _Headers(), False, 0
            return
        self._finish(keep_alive=self.parser.should_keep_alive())

    # --- internals ------------------------------------------------------------------------
    def _until_close(self) -> bool:
        h = self.headers
        return (
            "content-length" not in h
            and "chunked" not in h.get("transfer-encoding", "").lower()
            and self.status not in (204, 304)
        )

    def _finish(self, *, keep_alive: bool) -> None:
        self.complete, self.keep_alive = True, keep_alive
        if self.draining:
            if self.drain_timer is not None:
                self.drain_timer.cancel()
            self.busy = False
            self.pool._release(self, keep=keep_alive)
            return
        self._wake()

    def _fail(self, error: H1Error) -> None:
        self.error = error
        self._close()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    async def _send(self, data: bytes, *, streaming: bool) -> None:
        """Send ``data`` (a whole request) and wait for the whole response, or for its head
        when ``streaming``; the connection stays busy only for a stream that answered."""
        assert self.transport is not None and not self.busy
        self._new_response(streaming=streaming)
        self.busy = True
        waiter = self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        try:
            await waiter
        except BaseException:  # cancelled mid-response: the connection's state is unknown
            self._close()
            self.busy = False
            raise
        if not streaming or self.error is not None:
            self.busy = False
        if self.error is not None:
            raise self.error

    async def request(self, data: bytes) -> H1Response:
        """Send ``data`` (a whole request) and read the whole response."""
        await self._send(data, streaming=False)
        body = b"".join(self.chunks)
        enc = self.headers.get("content-encoding", "identity").lower()
        if enc not in ("identity", ""):
            body = _decode(body, enc, self.pool.max_body)
        return H1Response(self.status, self.headers, body, self.t_headers)

    async def open_stream(self, data: bytes) -> None:
        """Send ``data`` and wait for the response's head; the body follows by ``next``."""
        await self._send(data, streaming=True)
        enc = self.headers.get("content-encoding", "identity").lower()
        if enc not in ("identity", ""):
            self._close()
            self.busy = False
            raise H1BodyError(f"a compressed stream ({enc}) is not supported")

    def drain(self) -> None:
        """Read the rest of the body without keeping it (see ``H1Stream.ended``)."""
        self.draining = True
        self.chunks.clear()
        self.taken = self.size
        if self.paused:
            self.paused = False
            assert self.transport is not None
            self.transport.resume_reading()
        self.drain_timer = asyncio.get_running_loop().call_later(_DRAIN_S, self._close)

    async def next(self) -> bytes:
        """The body bytes that arrived since the last call (waiting for some); b"" at its
        end. Raises ``H1BodyError`` when the body was cut."""
        while not self.chunks and not self.complete and self.error is None:
            waiter = self.waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            except BaseException:
                self._close()
                raise
        if self.chunks:
            data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
            self.chunks.clear()
            self.taken += len(data)
            if self.paused:
                self.paused = False
                assert self.transport is not None
                self.transport.resume_reading()
            return data
        if self.error is not None:
            raise self.error
        return b""


def _decode(body: bytes, encoding: str, limit: int) -> bytes:
    # nova sends no Accept-Encoding, so a server should not compress; some do anyway.
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise H1BodyError(f"unsupported Content-Encoding {encoding!r}")
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    try:
        d = zlib.decompressobj(wbits)
        out = d.decompress(body, limit + 1)
    except zlib.error:
        if encoding != "deflate":
            raise H1BodyError(f"response body is not valid {encoding}") from None
        try:  # "deflate" as raw deflate without the zlib header (seen in the wild)
            d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = d.decompress(body, limit + 1)
        except zlib.error:
            raise H1BodyError("response body is not valid deflate") from None
    if len(out) > limit:
        raise H1BodyError(f"decompressed response body larger than {limit} bytes")
    return out


class H1Pool:
    """Kept-alive connections to one URL for ``post`` and ``stream``; at most ``limit`` open
    at once."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        limit: int,
        connect_timeout_s: float | None,
        idle_s: float = 4.0,
        max_body: int = 64 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "nova",
    ) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if parts.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        host_header = host if self.port == default_port else f"{host}:{self.port}"
        fields: dict[str, str] = {"Host": host_header, "User-Agent": user_agent,
                                  "Accept": "*/*"}  # fmt: skip
        if parts.username is not None:  # user:password@host in the URL: HTTP Basic, as aiohttp
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            fields["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode()
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
                raise ValueError(f"header {name!r}: not a valid HTTP header name or value")
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue  # set by the client
            # A header of the caller's (Host for a virtual host, Authorization) replaces ours.
            fields = {k: v for k, v in fields.items() if k.lower() != name.lower()}
            fields[name] = value
        if _BAD_VALUE.search(target) or " " in target:
            raise ValueError(f"URL path {target!r} has characters HTTP does not allow")
        head = f"POST {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self._head = head.encode("utf-8") + b"Content-Length: "
        self.limit = max(1, limit)
        self.connect_timeout_s = connect_timeout_s
        self.idle_s = idle_s
        self.max_body = max_body
        self._idle: list[_Conn] = []
        self._open: set[_Conn] = set()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    def _frame(self, body: bytes) -> bytes:
        return b"".join((self._head, b"%d\r\n\r\n" % len(body), body))

    async def post(self, body: bytes) -> H1Response:
        """POST ``body``; raises ``H1Error`` subclasses for every way it can fail."""
        conn = await self._acquire()
        try:
            resp = await conn.request(self._frame(body))
        except BaseException:
            self._release(conn, keep=False)
            raise
        self._release(conn, keep=conn.keep_alive)
        return resp

    async def stream(self, body: bytes) -> H1Stream:
        """POST ``body`` and return once the response's head has arrived; read the body with
        ``H1Stream.iter_any`` and close the stream (``async with``) when done."""
        conn = await self._acquire()
        try:
            await conn.open_stream(self._frame(body))
        except BaseException:
            self._release(conn, keep=False)
            raise
        return H1Stream(self, conn)

    async def close(self) -> None:
        """Close every connection; waiting requests fail."""
        self._closed = True
        for c in list(self._open):
            c._close()
        self._idle.clear()
        while self._waiting:
            w = self._waiting.popleft()
            if not w.done():
                w.set_exception(H1Disconnected("the client was closed"))

    # --- connections ----------------------------------------------------------------------
    async def _acquire(self) -> _Conn:
        now = time.monotonic()
        while self._idle:
            c = self._idle.pop()  # the most recently used: the least likely to be closed
            if not c.lost and now - c.idle_since < self.idle_s:
                return c
            c._close()
            self._open.discard(c)
        while len(self._open) >= self.limit:
            w: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(w)
            try:
                await w
            except asyncio.CancelledError:
                if w.done() and not w.cancelled():
                    self._wake_one()  # the turn this task was given goes to the next one
                raise
            if self._idle:
                return await self._acquire()
        return await self._connect()

    async def _connect(self) -> _Conn:
        if self._closed:
            raise H1Disconnected("the client was closed")
        loop = asyncio.get_running_loop()
        conn = _Conn(self)
        self._open.add(conn)
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await loop.create_connection(
                    lambda: conn,
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError as exc:
            self._discard(conn)
            if exc.errno is not None:  # the kernel's ETIMEDOUT, not connect_timeout_s
                raise H1ConnectError(str(exc)) from None
            raise H1ConnectTimeout(
                f"no connection to {self.host}:{self.port} within {self.connect_timeout_s:g} s"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            self._discard(conn)
            raise H1ConnectError(str(exc) or type(exc).__name__) from None
        except BaseException:
            self._discard(conn)
            conn._close()
            raise
        return conn

    def _release(self, conn: _Conn, *, keep: bool) -> None:
        if keep and not conn.lost and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn._close()
            self._open.discard(conn)
        self._wake_one()

    def _discard(self, conn: _Conn) -> None:
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        if len(self._open) < self.limit:
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            w = self._waiting.popleft()
            if not w.done():
                w.set_result(None)
                return
