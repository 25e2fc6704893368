"""OpenAI-compatible chat completions: vLLM, TGI Messages API, llama.cpp server, Ollama,
HF Inference Endpoints, OpenAI itself.

Chat requests, plain and streamed, go through ``nova.providers._h1`` (kept-alive HTTP/1.1,
responses parsed by llhttp): 66 us of CPU per plain request instead of 201 us through
aiohttp's client (benchmarks/bench_h1.py, 2026-11-30). ``GET /models`` uses aiohttp (not httpx:
measured on this machine at concurrency 32 against a local server, aiohttp did 2,200-2,400
requests/s at 0.3 ms CPU per request, httpx's AsyncClient 160-180 at 5 ms).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from nova.__about__ import __version__
from nova.providers._base import Provider, register_provider
from nova.providers._errors import (
    AuthError,
    BadRequestError,
    ContextLengthError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamCutError,
    TimeoutError_,
    UnreachableError,
)
from nova.providers._h1 import (
    H1ConnectError,
    H1ConnectTimeout,
    H1Disconnected,
    H1Error,
    H1Pool,
    H1Response,
    H1Stream,
)
from nova.providers._sse import iter_sse_data
from nova.providers._types import (
    ChatDelta,
    ChatRequest,
    ChatResponse,
    Message,
    ModelInfo,
    Timings,
    ToolCall,
    Usage,
)

__all__ = ["OpenAIProvider", "parse_retry_after"]

_ERROR_BODY_LIMIT = 64 * 1024
"""Bytes of a streamed request's error answer read for its message."""

_now = time.perf_counter_ns


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_CHOICE_WORDS = frozenset({"auto", "none", "required"})


def _message(m: Message) -> dict[str, Any]:
    # By hand, not model_dump (a third of this function's cost), and in OpenAI's shape:
    # tool calls as {"id", "type": "function", "function": {"name", "arguments"}}.
    out: dict[str, Any] = {"role": m.role}
    if m.content is not None:
        out["content"] = m.content
    if m.tool_calls is not None:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]  # fmt: skip
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def build_body(model: str, req: ChatRequest, *, include_usage: bool) -> dict[str, Any]:
    """OpenAI chat completions body for ``req``."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in req.messages],
        "stream": req.stream,
    }
    for name in ("max_tokens", "temperature", "top_p", "stop", "seed", "response_format"):
        value = getattr(req, name)
        if value is not None:
            body[name] = value
    choice = req.tool_choice
    if choice is not None:
        # A function's name means "call this one": OpenAI's object form.
        body["tool_choice"] = (
            choice
            if choice in _CHOICE_WORDS
            else {"type": "function", "function": {"name": choice}}
        )
    if req.tools:
        body["tools"] = [{"type": "function", "function": t.model_dump()} for t in req.tools]
    if req.ignore_eos:
        body["ignore_eos"] = True
    if req.stream and include_usage:
        body["stream_options"] = {"include_usage": True}
    body.update(req.extra_body)
    return body


@register_provider("openai")
class OpenAIProvider(Provider):
    """Any server that speaks the OpenAI chat completions API."""

    _session: aiohttp.ClientSession | None = None
    _h1: H1Pool | None = None
    _include_usage: bool = True

    # --- endpoint shape (Azure overrides these) --------------------------------------------
    def url(self) -> str:
        """Chat completions URL."""
        base = (self.candidate.provider.base_url or "https://api.openai.com/v1").rstrip("/")
        return f"{base}/chat/completions"

    def headers(self) -> dict[str, str]:
        """Request headers, with the key (never logged or stored)."""
        h = {"Content-Type": "application/json", **self.candidate.provider.headers}
        key = self.candidate.provider.api_key
        if key is not None and key.get_secret_value():
            h["Authorization"] = f"Bearer {key.get_secret_value()}"
        return h

    def body_model(self) -> str:
        """Value of the ``model`` field."""
        return self.model

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._session is None:
            s = self.candidate.provider
            connector = aiohttp.TCPConnector(limit=max(s.max_concurrency, 1) * 2, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout_s),
                headers=self.headers(),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._h1 is not None:
            await self._h1.close()
            self._h1 = None

    async def model_info(self) -> ModelInfo | None:
        await self.start()
        assert self._session is not None
        base = self.url().rsplit("/chat/completions", 1)[0]
        try:
            async with self._session.get(f"{base}/models") as resp:
                if resp.status != 200:
                    return None
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, ValueError):
            return None
        for m in data.get("data") or []:
            if m.get("id") == self.model or len(data["data"]) == 1:
                ctx = m.get("max_model_len") or m.get("context_length")
                return ModelInfo(
                    id=m["id"], owned_by=m.get("owned_by"), context_window=int(ctx) if ctx else None
                )
        return None

    # --- one attempt ----------------------------------------------------------------------
    async def chat(self, request: ChatRequest) -> ChatResponse:
        await self.start()
        s = self.candidate.provider
        total = s.timeout_s
        first = s.first_token_timeout_s or total
        t_send = _now()
        try:
            async with asyncio.timeout(total):
                return await self._chat_once(request, t_send, first)
        except TimeoutError:
            raise TimeoutError_(
                self.candidate.id,
                f"no complete answer within {total:g} s (provider.timeout_s)",
                phase="total",
            ) from None

    async def _chat_once(
        self, request: ChatRequest, t_send: int, first_timeout: float
    ) -> ChatResponse:
        body = build_body(self.body_model(), request, include_usage=self._include_usage)
        if not request.stream:
            return await self._chat_plain(body, t_send)
        async with await self._open_stream(body) as resp:
            if resp.status >= 400:
                text = await self._error_text(resp)
                if resp.status == 400 and "stream_options" in body and "stream_options" in text:
                    # Older servers reject stream_options: remember and send without it.
                    self._include_usage = False
                    return await self._chat_once(request, t_send, first_timeout)
                raise self._http_error(resp, text)
            return await self._read_stream(resp, t_send, first_timeout)

    async def _chat_plain(self, body: dict[str, Any], t_send: int) -> ChatResponse:
        """A plain request over the kept-alive HTTP/1.1 pool."""
        cid = self.candidate.id
        pool = await self._pool()
        try:
            resp = await pool.post(json.dumps(body).encode())
        except H1Error as exc:
            raise self._h1_error(exc) from None
        request_id = resp.headers.get("x-request-id")
        if resp.status >= 400:
            raise self._http_error(resp, resp.text(errors="replace"))
        try:
            data = json.loads(resp.body)
        except ValueError as exc:
            raise StreamCutError(
                cid, f"response body unreadable: {exc}", request_id=request_id
            ) from None
        if not isinstance(data, dict):
            raise StreamCutError(cid, "response body is not a JSON object", request_id=request_id)
        t_end = _now()
        return self._from_body(
            data,
            Timings(
                t_send_ns=t_send,
                t_first_byte_ns=resp.t_headers_ns,
                t_first_token_ns=t_end,
                t_last_token_ns=t_end,
                t_end_ns=t_end,
            ),
            request_id,
        )

    async def _pool(self) -> H1Pool:
        """The kept-alive connections to the chat completions URL (made at the first request,
        again when the URL changed: a local server restarted on another port)."""
        url = self.url()
        pool = self._h1
        if pool is None or pool.url != url:
            if pool is not None:
                await pool.close()
            s = self.candidate.provider
            pool = self._h1 = H1Pool(
                url,
                self.headers(),
                limit=max(s.max_concurrency, 1) * 2,
                connect_timeout_s=s.connect_timeout_s,
                user_agent=f"nova/{__version__}",
            )
        return pool

    async def _open_stream(self, body: dict[str, Any]) -> H1Stream:
        """POST the body for a streamed answer; its response once the head has arrived."""
        pool = await self._pool()
        try:
            return await pool.stream(json.dumps(body).encode())
        except H1Error as exc:
            raise self._h1_error(exc) from None

    def _h1_error(self, exc: H1Error) -> ProviderError:
        cid = self.candidate.id
        if isinstance(exc, H1ConnectTimeout):
            return TimeoutError_(
                cid, "connect timed out (provider.connect_timeout_s)", phase="connect"
            )
        if isinstance(exc, H1ConnectError):
            return UnreachableError(
                cid,
                f"cannot connect to {self.url()}: {exc} — is the server running and "
                "provider.base_url right?",
            )
        if isinstance(exc, H1Disconnected):
            return UnreachableError(cid, f"connection lost before a response: {exc}")
        return StreamCutError(cid, f"response body unreadable: {exc}")

    async def _error_text(self, resp: H1Stream) -> str:
        # At most 64 KiB of an error answer (300 characters of it are reported).
        try:
            return await resp.text(errors="replace", limit=_ERROR_BODY_LIMIT)
        except H1Error as exc:
            return f"(error body unreadable: {exc})"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """The answer chunk by chunk as the server streams it (no timeouts here beyond the
        connect timeout: the caller bounds the wait for each chunk)."""
        await self.start()
        req = request if request.stream else request.model_copy(update={"stream": True})
        body = build_body(self.body_model(), req, include_usage=self._include_usage)
        cid = self.candidate.id
        async with await self._open_stream(body) as resp:
            if resp.status >= 400:
                text = await self._error_text(resp)
                if resp.status == 400 and "stream_options" in body and "stream_options" in text:
                    self._include_usage = False
                    async for d in self.stream(request):
                        yield d
                    return
                raise self._http_error(resp, text)
            rid = resp.headers.get("x-request-id")
            finish: str | None = None
            pieces = 0
            try:
                async for data in iter_sse_data(resp.iter_any()):
                    if data.strip() == "[DONE]":
                        resp.ended()  # the connection is kept once the body's end arrives
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise StreamCutError(
                            cid, f"invalid JSON in stream: {data[:120]!r}", request_id=rid
                        ) from None
                    if not isinstance(chunk, dict):
                        raise StreamCutError(cid, "stream chunk is not an object", request_id=rid)
                    if "error" in chunk and not chunk.get("choices"):
                        e = chunk["error"]
                        msg = e.get("message") if isinstance(e, dict) else e
                        raise ServerError(cid, f"error inside stream: {msg}", request_id=rid)
                    model = chunk.get("model")
                    if chunk.get("usage"):
                        yield ChatDelta(usage=_usage(chunk["usage"]), model=model)
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        fin = choice.get("finish_reason")
                        piece = delta.get("content") or ""
                        calls = delta.get("tool_calls")
                        if piece or calls or fin:
                            pieces += 1
                            finish = fin or finish
                            yield ChatDelta(
                                text=piece, tool_calls=calls, finish_reason=fin, model=model
                            )
            except H1Error as exc:
                raise StreamCutError(
                    cid, f"stream cut after {pieces} chunks: {exc}", request_id=rid
                ) from None
            if finish is None:
                raise StreamCutError(
                    cid,
                    f"stream ended after {pieces} chunks without a finish reason",
                    request_id=rid,
                )

    def _http_error(self, resp: H1Response | H1Stream, text: str) -> ProviderError:
        cid = self.candidate.id
        rid = resp.headers.get("x-request-id")
        msg = text
        try:
            err = json.loads(text)
            if isinstance(err, dict):
                e = err.get("error", err)
                msg = (e.get("message") if isinstance(e, dict) else str(e)) or text
        except ValueError:
            pass
        msg = msg.strip()[:300]
        st = resp.status
        low = msg.lower()
        kw: dict[str, Any] = {"status": st, "request_id": rid}
        if st in (401, 403):
            return AuthError(
                cid,
                f"HTTP {st} {msg} — check provider.api_key (the environment "
                "variable it references) and its permissions",
                **kw,
            )
        if st == 429:
            ra = parse_retry_after(resp.headers.get("Retry-After"))
            after = f", retry after {ra:g} s" if ra is not None else ""
            return RateLimitError(
                cid,
                f"HTTP 429 rate limited{after}: {msg}",
                retry_after=ra,
                **kw,
            )
        if ("context" in low and ("length" in low or "window" in low or "maximum" in low)) or (
            "too many tokens" in low or ("exceeds" in low and "token" in low)
        ):
            return ContextLengthError(
                cid,
                f"HTTP {st} context window exceeded: {msg} — "
                "shorten the prompt or lower max_tokens",
                **kw,
            )
        if (
            st == 404
            or "model_not_found" in low
            or ("model" in low and "not" in low and "found" in low)
        ):
            return ModelNotFoundError(
                cid,
                f"HTTP {st} model {self.body_model()!r} not found at "
                f"{self.url()}: {msg} — check `model:` and "
                "provider.base_url",
                **kw,
            )
        if st >= 500:
            return ServerError(cid, f"HTTP {st}: {msg}", **kw)
        return BadRequestError(cid, f"HTTP {st}: {msg}", **kw)

    def _from_body(
        self, data: dict[str, Any], timings: Timings, request_id: str | None
    ) -> ChatResponse:
        choices = data.get("choices") or [{}]
        msg = choices[0].get("message") or {}
        calls = [
            ToolCall(
                id=c.get("id") or "",
                name=(c.get("function") or {}).get("name", ""),
                arguments=(c.get("function") or {}).get("arguments") or "",
            )
            for c in msg.get("tool_calls") or []
        ]
        usage = data.get("usage") or {}
        return ChatResponse(
            text=msg.get("content") or "",
            reasoning=msg.get("reasoning_content") or msg.get("reasoning"),
            tool_calls=calls,
            finish_reason=choices[0].get("finish_reason"),
            usage=_usage(usage),
            model_reported=data.get("model"),
            request_id=data.get("id") or request_id,
            timings=timings,
            raw=data,
        )

    async def _read_stream(
        self,
        resp: H1Stream,
        t_send: int,
        first_timeout: float,
    ) -> ChatResponse:
        cid = self.candidate.id
        text: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        chunk_times: list[int] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        model = None
        rid = resp.headers.get("x-request-id")
        t_first_tok: int | None = None
        last: dict[str, Any] | None = None
        done = False
        events = iter_sse_data(resp.iter_any()).__aiter__()
        deadline = time.monotonic() + first_timeout
        try:
            while True:
                try:
                    if t_first_tok is None:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise TimeoutError
                        data = await asyncio.wait_for(events.__anext__(), remaining)
                    else:
                        data = await events.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise TimeoutError_(
                        cid,
                        f"no first token within {first_timeout:g} s "
                        "(provider.first_token_timeout_s)",
                        phase="first_token",
                        request_id=rid,
                        partial_text="".join(text),
                    ) from None
                if data.strip() == "[DONE]":
                    done = True
                    resp.ended()  # the connection is kept once the body's end arrives
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise StreamCutError(
                        cid,
                        f"invalid JSON in stream: {data[:120]!r}",
                        request_id=rid,
                        partial_text="".join(text),
                    ) from None
                if "error" in chunk and not chunk.get("choices"):
                    e = chunk["error"]
                    raise ServerError(
                        cid,
                        f"error inside stream: {e.get('message') if isinstance(e, dict) else e}",
                        request_id=rid,
                        partial_text="".join(text),
                    )
                last = chunk
                model = chunk.get("model") or model
                rid = chunk.get("id") or rid
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = delta.get("content")
                    rpiece = delta.get("reasoning_content") or delta.get("reasoning")
                    if piece or rpiece:
                        t = _now()
                        chunk_times.append(t)
                        if t_first_tok is None:
                            t_first_tok = t
                        if piece:
                            text.append(piece)
                        if rpiece:
                            reasoning.append(rpiece)
                    for tc in delta.get("tool_calls") or []:
                        slot = calls.setdefault(
                            int(tc.get("index", 0)), {"id": "", "name": "", "arguments": ""}
                        )
                        slot["id"] = tc.get("id") or slot["id"]
                        fn = tc.get("function") or {}
                        slot["name"] += fn.get("name") or ""
                        slot["arguments"] += fn.get("arguments") or ""
                        if t_first_tok is None:
                            t_first_tok = _now()
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        except H1Error as exc:
            raise StreamCutError(
                cid,
                f"stream cut after {len(chunk_times)} chunks: {exc}",
                request_id=rid,
                partial_text="".join(text),
            ) from None
        t_end = _now()
        if finish is None:
            # [DONE] is optional, a finish reason is not: without one the server stopped early
            # (llama.cpp ends an interrupted stream with a bare [DONE]).
            how = "with [DONE] but" if done else "without [DONE] and"
            raise StreamCutError(
                cid,
                f"stream ended after {len(chunk_times)} chunks {how} without a finish reason",
                request_id=rid,
                partial_text="".join(text),
            )
        tool_calls = [ToolCall(**calls[i]) for i in sorted(calls)]
        u = _usage(usage)
        if u.source == "none" and chunk_times:
            # No usage from the server: one content chunk is one token on vLLM, TGI and
            # llama.cpp; tagged as an estimate so nobody mistakes it for the server's count.
            u = Usage(completion_tokens=len(chunk_times), source="estimate")
        return ChatResponse(
            text="".join(text),
            reasoning="".join(reasoning) or None,
            tool_calls=tool_calls,
            finish_reason=finish,
            usage=u,
            model_reported=model,
            request_id=rid,
            timings=Timings(
                t_send_ns=t_send,
                t_first_byte_ns=resp.t_headers_ns,
                t_first_token_ns=t_first_tok,
                t_last_token_ns=chunk_times[-1] if chunk_times else t_first_tok,
                t_end_ns=t_end,
                chunk_times_ns=chunk_times,
            ),
            raw=last,
        )


def _usage(usage: dict[str, Any]) -> Usage:
    if usage and (
        usage.get("prompt_tokens") is not None or usage.get("completion_tokens") is not None
    ):
        return Usage(
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            source="server",
        )
    return Usage()
