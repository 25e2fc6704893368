"""The gateway as an aiohttp.web application: OpenAI-compatible chat completions behind API
keys, limits, rails, fallback, metrics and a per-request audit record."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from nova.catalog import Catalog
from nova.config import NovaConfig
from nova.gateway._audit import AuditWriter
from nova.gateway._errors import ApiError, error_response
from nova.gateway._http import Coalescer, aclose, write_all
from nova.gateway._keys import KeyRing, Principal
from nova.gateway._limits import Limits, Reservation
from nova.gateway._metrics import GatewayMetrics
from nova.gateway._oidc import OidcVerifier
from nova.gateway._protocol import (
    ChatBody,
    ChunkWriter,
    _encode,
    error_event,
    estimate_prompt_tokens,
    parse_chat_body,
    plain_messages,
    to_chat_request,
)
from nova.gateway._rails import RailsCheck, WorkspaceRails, load_workspace_rails
from nova.gateway._router import Opened, Route, Router
from nova.providers import (
    BadRequestError,
    ChatDelta,
    ContextLengthError,
    ProviderError,
    TimeoutError_,
)
from nova.store import AuditItem, KeyRole, RunStore

__all__ = ["Gateway"]

log = logging.getLogger("nova.gateway")

_RID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_JSON = "application/json"
# Made once: json.dumps with non-default settings builds an encoder per call.
_encode_sorted = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


@dataclass
class _Call:
    """What one chat request did, for metrics and its audit record."""

    t0: float
    rid: str
    who: Principal | None = None
    model: str | None = None
    route: Route | None = None
    path: list[dict[str, Any]] = field(default_factory=list)
    stream: bool = False
    status: int = 200
    outcome: str = "ok"
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_source: str = "none"
    ttft_s: float | None = None
    upstream_s: float = 0.0
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    prompt: list[dict[str, str]] | None = None
    prompt_sha256: str | None = None
    answer: str | None = None
    redacted_prompt: list[dict[str, str]] | None = None
    redacted_answer: str | None = None
    reservation: Reservation | None = None
    finished: bool = False
    """``_finish`` ran (its audit write may have failed: not tried twice)."""


class Gateway:
    """Everything one gateway process holds: routes, keys, limits, rails, metrics, audit."""

    def __init__(
        self,
        config: NovaConfig,
        store: RunStore,
        *,
        workspace_root: Path | None = None,
        catalog: Catalog | None = None,
        rails: WorkspaceRails | None = None,
    ) -> None:
        self.config = config
        self.settings = config.gateway
        self.store = store
        self.metrics = GatewayMetrics()
        self.router = Router(
            config,
            workspace_root=workspace_root,
            catalog=catalog,
            on_fallback=self._count_fallback,
        )
        self.keys = KeyRing(store, self.settings.key_refresh_s)
        self.limits = Limits(self.keys, store=store, sync_s=self.settings.limits_sync_s)
        self.audit = AuditWriter(store, on_usage=self.limits.persisted)
        self.rails = rails if rails is not None else load_workspace_rails(workspace_root)
        self.oidc = OidcVerifier(self.settings.oidc) if self.settings.oidc else None
        self.started = False
        # Request ids: a random per-process prefix and a counter (unique without a syscall
        # per request; os.urandom measured 45 us per call on a loaded 2-core VM).
        self._rid_prefix = f"chatcmpl-{secrets.token_hex(6)}-"
        self._rid_seq = itertools.count(1)

    def _count_fallback(self, src: str, dst: str, reason: str) -> None:
        self.metrics.fallbacks.labels(src, dst, reason).inc()
        log.warning("fallback %s -> %s (%s)", src, dst, reason)

    async def start(self, _app: web.Application | None = None) -> None:
        """Start providers, keys and the audit writer."""
        self.audit.start()
        await self.keys.start()
        await self.limits.start()
        await self.router.start()
        self.started = True
        log.info(
            "gateway serving %s (fallback %s); rails %s; %d active keys",
            ", ".join(self.router.served),
            self.router.fallback or "none",
            self.rails.status,
            len(self.keys),
        )

    async def close(self, _app: web.Application | None = None) -> None:
        """Stop everything; queued audit records are written first."""
        self.started = False
        await self.keys.close()
        await self.limits.close()
        await self.router.close()
        self.audit.stop_inline()
        await asyncio.to_thread(self.audit.close)

    # --- authentication -------------------------------------------------------------------
    async def authenticate(self, request: web.Request, *roles: KeyRole) -> Principal:
        """The caller, if it may use an endpoint for ``roles``; else 401/403."""
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if not auth:
            raise ApiError(
                401,
                "missing API key: send the header Authorization: Bearer <key> "
                "(create one with `nova keys create`)",
                code="missing_api_key",
            )
        who: Principal | None = None
        if scheme.lower() == "bearer" and token:
            if token.startswith("nova_"):
                who = self.keys.authenticate(token)
            elif self.oidc is not None and token.count(".") == 2:
                who = await self.oidc.verify(token)
        if who is None:
            raise ApiError(401, "invalid, unknown or revoked API key", code="invalid_api_key")
        if who.role not in roles:
            raise ApiError(
                403,
                f"role {who.role!r} may not use {request.method} {request.path} "
                f"(allowed: {', '.join(roles)})",
                code="forbidden",
            )
        return who

    # --- chat completions -----------------------------------------------------------------
    async def chat(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/chat/completions."""
        supplied = request.headers.get("X-Request-Id", "")
        rid = supplied if _RID.match(supplied) else f"{self._rid_prefix}{next(self._rid_seq):x}"
        call = _Call(t0=time.perf_counter(), rid=rid)
        try:
            call.who = await self.authenticate(request, "app")
            body = await self._read_body(request)
            call.model, call.stream = body.model, body.stream
            self._check_model(call.who, body.model)
            messages = plain_messages(body)
            call.prompt = messages
            chat_req = await self._input_rails(call, body, messages)
            tokens = estimate_prompt_tokens(messages) + (
                body.output_limit or self.settings.default_max_tokens
            )
            try:
                call.reservation = self.limits.admit(call.who, tokens)
            except ApiError as err:
                self.metrics.budget_rejections.labels(err.code or "rpm").inc()
                raise
            # Runs at this task's first wait (usually for the model server's answer): work
            # for the audit record done while the server works, not after it.
            if self.settings.audit_content != "none":
                asyncio.get_running_loop().call_soon(self._prepare_audit, call)
            opened = await self._open(call, body.model, chat_req)
            if body.stream:
                return await self._stream(request, call, body, opened)
            return await self._complete(request, call, body, opened, chat_req)
        except ApiError as err:
            call.status = err.status
            call.outcome = call.outcome if call.outcome != "ok" else (err.code or "error")
            call.error = err.message
            if not call.finished:
                try:
                    await self._finish(call)
                except ApiError as audit_err:  # the record of the refusal cannot be written
                    return error_response(audit_err, {"X-Request-Id": rid})
            return error_response(err, {"X-Request-Id": rid})

    async def _read_body(self, request: web.Request) -> ChatBody:
        raw_type = request.headers.get("Content-Type")
        if raw_type != _JSON and request.content_type not in (  # parsed only when not plain
            "application/json",
            "application/octet-stream",
            "",
        ):
            raise ApiError(
                415, f"Content-Type must be application/json, not {request.content_type}"
            )
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(
                413,
                f"request body larger than {self.settings.max_body_bytes} bytes "
                "(gateway.max_body_bytes)",
                code="body_too_large",
            ) from None
        return parse_chat_body(raw, self.settings.max_tokens_limit)

    def _check_model(self, who: Principal, model: str) -> None:
        if model not in self.router.served:
            raise ApiError(
                404,
                f"model {model[:100]!r} is not served here; see GET /v1/models "
                f"({', '.join(self.router.served)})",
                code="model_not_found",
                param="model",
            )
        if who.models is not None and model not in who.models:
            raise ApiError(403, f"this key may not use model {model!r}", code="model_not_allowed")

    async def _input_rails(
        self, call: _Call, body: ChatBody, messages: list[dict[str, str]]
    ) -> Any:
        checked = await self.rails.check_input(messages)
        if checked is not None:
            call.verdicts += checked.verdicts
            if checked.messages is not None:
                call.redacted_prompt = checked.messages
            if checked.blocked:
                self._count_blocks(checked, "input")
                call.outcome = "blocked_input"
                raise ApiError(
                    400,
                    checked.refusal
                    or f"request blocked by safety rail {', '.join(checked.blocking_rails)}",
                    code="content_blocked",
                )
        sent = call.redacted_prompt if call.redacted_prompt is not None else messages
        return to_chat_request(body, sent, self.rails.system_prompt())

    def _count_blocks(self, checked: RailsCheck, stage: str) -> None:
        for rail in checked.blocking_rails or ["unknown"]:
            self.metrics.rail_blocks.labels(rail, stage).inc()

    async def _open(self, call: _Call, model: str, chat_req: Any, skip: int = 0) -> Opened:
        try:
            opened = await self.router.open(model, chat_req, skip=skip, path=call.path)
        except ProviderError as exc:
            call.path = getattr(exc, "fallback_path", [])
            call.route = self.router.routes.get(exc.candidate)
            call.outcome = "upstream_" + exc.kind
            if isinstance(exc, ContextLengthError | BadRequestError):
                raise ApiError(400, f"the model rejected the request: {exc}") from None
            if isinstance(exc, TimeoutError_):
                raise ApiError(504, f"no answer in time: {exc}", code="upstream_timeout") from None
            raise ApiError(
                502, f"no candidate could answer: {exc}", code="upstream_error"
            ) from None
        call.route, call.path = opened.route, opened.path
        call.upstream_s += opened.upstream_s
        call.ttft_s = time.perf_counter() - call.t0
        return opened

    def _headers(self, call: _Call) -> dict[str, str]:
        h = {"X-Request-Id": call.rid}
        if call.route is not None:
            h["X-Nova-Candidate"] = call.route.id
        if self.settings.ai_marker:
            h["X-AI-Generated"] = "true"
        return h

    async def _pull(
        self, call: _Call, opened: Opened
    ) -> tuple[list[ChatDelta], BaseException | None]:
        """The rest of the stream after the first token, with the candidate's total timeout."""
        if opened.complete:
            return [], None
        out: list[ChatDelta] = []
        timeout = opened.route.candidate.provider.timeout_s
        t = time.perf_counter()
        try:
            async with asyncio.timeout(max(0.001, timeout - (t - call.t0))):
                async for d in opened.stream:
                    out.append(d)
        except (ProviderError, TimeoutError) as exc:
            call.upstream_s += time.perf_counter() - t
            return out, exc
        call.upstream_s += time.perf_counter() - t
        return out, None

    async def _complete(
        self, request: web.Request, call: _Call, body: ChatBody, opened: Opened, chat_req: Any
    ) -> web.Response:
        while True:
            rest, exc = await self._pull(call, opened)
            route = opened.route
            if exc is None:
                break
            # Nothing has reached the client yet: the next candidate may still answer.
            await aclose(opened.stream)
            route.breaker.failure()
            chain = self.router.chain(body.model)
            done = [r.id for r in chain].index(route.id) + 1
            reason = "stream_cut" if isinstance(exc, ProviderError) else "total_timeout"
            call.path.append({"candidate": route.id, "reason": reason, "error": str(exc)[:300]})
            if done >= len(chain):
                call.outcome = "upstream_cut"
                raise ApiError(
                    502,
                    f"candidate {route.id} failed while answering: {exc or 'timeout'}",
                    code="upstream_error",
                )
            self.router.fell_back(route.id, chain[done].id, reason)
            opened = await self._open(call, body.model, chat_req, skip=done)
        deltas = opened.first + rest
        route.breaker.success()
        text, calls, finish = self._assemble(call, deltas, body)
        checked = await self.rails.check_output(text, call.prompt or [])
        if checked is not None:
            call.verdicts += checked.verdicts
            if checked.text is not None:
                call.redacted_answer = checked.text
                text = checked.text
            if checked.blocked:
                self._count_blocks(checked, "output")
                call.outcome = "blocked_output"
                text, finish, calls = checked.refusal or "", "content_filter", []
        call.answer = text
        msg: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            msg["tool_calls"] = calls
        out: dict[str, Any] = {
            "id": call.rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": route.id,
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": call.prompt_tokens,
                "completion_tokens": call.completion_tokens,
                "total_tokens": call.prompt_tokens + call.completion_tokens,
            },
        }
        if self.settings.ai_marker:
            out["ai_generated"] = True
        if call.path:
            out["nova"] = {"fallback_from": [p["candidate"] for p in call.path]}
        transport = request.transport
        if transport is None or transport.is_closing():
            # The client left while the model answered: nobody will read this answer.
            call.status, call.outcome = 499, "client_disconnected"
        await self._finish(call)
        headers = self._headers(call)
        headers["Content-Type"] = _JSON
        return web.Response(body=_encode(out).encode(), headers=headers)

    def _assemble(
        self, call: _Call, deltas: list[ChatDelta], body: ChatBody
    ) -> tuple[str, list[dict[str, Any]], str]:
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish = "stop"
        pieces = 0
        for d in deltas:
            if d.text:
                text.append(d.text)
                pieces += 1
            for tc in d.tool_calls or []:
                slot = calls.setdefault(
                    int(tc.get("index", 0)),
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                slot["id"] = tc.get("id") or slot["id"]
                fn = tc.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
            if d.finish_reason:
                finish = d.finish_reason
            if d.usage is not None and d.usage.source != "none":
                call.prompt_tokens = d.usage.prompt_tokens or 0
                call.completion_tokens = d.usage.completion_tokens or 0
                call.usage_source = d.usage.source
        if call.usage_source == "none":
            call.prompt_tokens = estimate_prompt_tokens(call.prompt or [])
            call.completion_tokens = pieces
            call.usage_source = "estimate"
        return "".join(text), [calls[i] for i in sorted(calls)], finish

    async def _stream(
        self, request: web.Request, call: _Call, body: ChatBody, opened: Opened
    ) -> web.StreamResponse:
        route = opened.route
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                **self._headers(call),
            }
        )
        await resp.prepare(request)
        cw = ChunkWriter(call.rid, route.id, self.settings.ai_marker)
        out = Coalescer(resp)
        text: list[str] = []
        finish: str | None = None
        pieces = 0
        t_first = t_last = 0.0
        err: BaseException | None = None
        seen: list[ChatDelta] = []
        deadline = asyncio.get_running_loop().time() + max(
            0.001, route.candidate.provider.timeout_s - (time.perf_counter() - call.t0)
        )
        # With output rails and stream_output_rails "buffer", nothing of the answer leaves
        # before the rails passed it (the client waits for the whole answer).
        hold = self.rails.active and self.settings.stream_output_rails == "buffer"
        held: list[bytes] = []
        emit = held.append if hold else out.push
        try:
            out.push(cw.delta({"role": "assistant", "content": ""}))
            it = opened.stream.__aiter__()
            pending = list(opened.first)
            # One deadline for the whole answer (provider.timeout_s), not a timer per chunk.
            async with asyncio.timeout_at(deadline):
                while True:
                    if pending:
                        d = pending.pop(0)
                    else:
                        t = time.perf_counter()
                        try:
                            d = await it.__anext__()
                        except StopAsyncIteration:
                            call.upstream_s += time.perf_counter() - t
                            break
                        except ProviderError as exc:
                            call.upstream_s += time.perf_counter() - t
                            err = exc
                            break
                        call.upstream_s += time.perf_counter() - t
                    seen.append(d)
                    if d.text:
                        text.append(d.text)
                        pieces += 1
                        t_last = time.perf_counter()
                        t_first = t_first or t_last
                        emit(cw.text(d.text))
                    if d.tool_calls:
                        emit(cw.delta({"tool_calls": d.tool_calls}))
                    if d.finish_reason:
                        finish = d.finish_reason
        except TimeoutError as exc:
            err = exc
        except (ConnectionResetError, asyncio.CancelledError) as exc:
            await self._client_left(call, opened, seen, body, text)
            if isinstance(exc, asyncio.CancelledError):
                raise  # the server is stopping
            return resp  # a client that left is no error of the gateway's
        try:
            await out.flush()
        except ConnectionResetError:
            await self._client_left(call, opened, seen, body, text)
            return resp
        if err is not None:
            await aclose(opened.stream)
            route.breaker.failure()
            self.metrics.stream_cuts.labels(route.id).inc()
            call.outcome, call.error = "stream_cut", f"{err or 'timeout'}"
            self._assemble(call, seen, body)
            call.answer = "".join(text)
            log.warning("stream cut after %d tokens from %s: %s", pieces, route.id, call.error)
            await self._finish_quietly(call)
            await write_all(
                resp,
                cw.delta({}, finish="error"),
                error_event(
                    f"the answer from {route.id} was cut after {pieces} tokens: {call.error}; "
                    "the text above is incomplete",
                    "stream_cut",
                ),
            )
            return resp
        route.breaker.success()
        self._assemble(call, seen, body)
        answer = "".join(text)
        blocked_event: bytes | None = None
        checked = await self.rails.check_output(answer, call.prompt or [])
        if checked is not None:
            call.verdicts += checked.verdicts
            if checked.text is not None:
                call.redacted_answer = checked.text
            if checked.blocked:
                self._count_blocks(checked, "output")
                call.outcome, finish = "blocked_output", "content_filter"
                blocked_event = error_event(
                    checked.refusal or "answer blocked by a safety rail", "content_blocked"
                )
        call.answer = answer
        if pieces > 1:
            self.metrics.tpot.labels(route.id).observe((t_last - t_first) / (pieces - 1))
        # The audit record is committed before the client sees the end of the answer.
        audit_error = await self._finish_quietly(call)
        if audit_error is not None:
            await write_all(resp, cw.delta({}, finish="error"), error_event(audit_error, "audit"))
            return resp
        tail = [cw.delta({}, finish=finish or "stop")]
        if hold:
            # Nothing was shown yet: the answer as the rails passed it, or their refusal.
            if checked is not None and checked.blocked:
                held, blocked_event = [cw.text(checked.refusal or "")], None
            elif checked is not None and checked.text is not None:
                held = [cw.text(checked.text)]
            tail = held + tail
        if blocked_event is not None:
            tail.append(blocked_event)
        elif (body.stream_options or {}).get("include_usage"):
            tail.append(cw.usage(call.prompt_tokens, call.completion_tokens))
        if blocked_event is None:
            tail.append(b"data: [DONE]\n\n")
        await write_all(resp, *tail)
        return resp

    async def _client_left(
        self, call: _Call, opened: Opened, seen: list[ChatDelta], body: ChatBody, text: list[str]
    ) -> None:
        """The client went away mid-stream: close the upstream stream (the model stops
        generating), settle and audit what was streamed as 499 ``client_disconnected``."""
        await aclose(opened.stream)
        call.status, call.outcome = 499, "client_disconnected"
        self._assemble(call, seen, body)
        call.answer = "".join(text)
        await self._finish_quietly(call)

    # --- the end of every chat request: metrics and the audit record ----------------------
    async def _finish_quietly(self, call: _Call) -> str | None:
        """``_finish`` for a response already under way: the audit failure as a message."""
        try:
            await self._finish(call, under_way=True)
        except ApiError as err:
            return err.message
        return None

    async def _finish(self, call: _Call, *, under_way: bool = False) -> None:
        """Write the request's audit record, then count it. When the record cannot be
        written the request is counted with outcome ``audit_error`` (in place of the one it
        had) and the status the client got: the one already sent when ``under_way`` (a
        stream), 499 for a client that had left, else the 503 raised here."""
        call.finished = True
        cid = call.route.id if call.route is not None else ""
        total = time.perf_counter() - call.t0
        cost = (
            call.route.cost(call.prompt_tokens, call.completion_tokens)
            if call.route is not None
            else None
        )
        used = call.prompt_tokens + call.completion_tokens
        if call.reservation is not None:
            self.limits.settle(call.reservation, used)
        who = call.who
        payload: dict[str, Any] = {
            "request_id": call.rid,
            "key_id": who.key_id if who else None,
            "role": who.role if who else None,
            "model": call.model,
            "candidate": cid or None,
            "fallback_path": call.path,
            "rails": {"status": self.rails.status, "verdicts": call.verdicts},
            "stream": call.stream,
            "tokens": {
                "prompt": call.prompt_tokens,
                "completion": call.completion_tokens,
                "source": call.usage_source,
            },
            "cost_usd": cost,
            "latency_ms": round(total * 1000, 3),
            "ttft_ms": round(call.ttft_s * 1000, 3) if call.ttft_s is not None else None,
            "status": call.status,
            "outcome": call.outcome,
            "error": call.error,
            **self._content(call),
        }
        usage = (who.key_id, used) if who is not None and who.key_id and used else None
        item = AuditItem(
            who.subject if who else "anonymous", "gateway.request", cid or None, payload
        )
        try:
            await self.audit.write(item, usage)
        except Exception as exc:
            if not under_way and call.status != 499:
                call.status = 503  # what the client gets instead of the answer
            call.outcome = "audit_error"
            self._observe(call, cid, total, cost)
            raise ApiError(
                503, f"the audit log cannot be written ({type(exc).__name__}); request refused"
            ) from None
        except BaseException:  # cancelled: the server is stopping
            self._observe(call, cid, total, cost)
            raise
        # Counted once this task has handed the response over (the callback runs after the
        # rest of this step, in which the answer is written): the client does not wait for it.
        asyncio.get_running_loop().call_soon(self._observe, call, cid, total, cost)

    def _observe(self, call: _Call, cid: str, total: float, cost: float | None) -> None:
        m = self.metrics
        error_type = "" if call.outcome == "ok" else call.outcome
        f = m.finished(cid, str(call.status), error_type)
        f.requests.inc()
        if cid:
            f.duration.observe(total)
            if call.ttft_s is not None:
                f.ttft.observe(call.ttft_s)
            f.tokens_in.observe(call.prompt_tokens)
            f.tokens_out.observe(call.completion_tokens)
        m.overhead.observe(max(0.0, total - call.upstream_s))
        if cost and f.cost is not None:
            f.cost.inc(cost)

    def _prepare_audit(self, call: _Call) -> None:
        if call.prompt is not None:  # text the body parser checked: it encodes as UTF-8
            call.prompt_sha256 = _sha(call.prompt)

    def _content(self, call: _Call) -> dict[str, Any]:
        policy = self.settings.audit_content
        if policy == "none" or call.prompt is None:
            return {}
        out: dict[str, Any] = {"prompt_sha256": call.prompt_sha256 or _sha(call.prompt)}
        if call.answer is not None:
            out["answer_sha256"] = _sha(call.answer)
        if policy == "redacted":
            if call.redacted_prompt is not None:
                out["prompt_redacted"] = call.redacted_prompt
            if call.redacted_answer is not None:
                out["answer_redacted"] = call.redacted_answer
            if not self.rails.active:
                out["redaction"] = f"unavailable (rails {self.rails.status}): hashes only"
        return out


def _sha(obj: Any) -> str:
    data = obj if isinstance(obj, str) else _encode_sorted(obj)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
