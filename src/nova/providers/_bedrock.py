"""``bedrock/<model id>``: AWS Bedrock through the Converse and ConverseStream APIs (boto3).

Settings: ``provider.region`` (e.g. ``eu-central-1``), optional ``provider.options.profile``
(an AWS profile name) and ``provider.options.endpoint_url`` (a VPC endpoint). Credentials come
from the standard AWS chain (environment, profile, SSO, instance role), never from nova.yaml.

boto3 is synchronous, so each request runs in a worker thread of the provider's own pool (sized
to ``provider.max_concurrency``, so requests never wait for a thread of asyncio's default pool
and pass that wait off as server latency). Timestamps are taken in that thread the moment
``converse_stream`` returns and each event is parsed; events then reach the event loop through
an ``asyncio.Queue`` fed with ``loop.call_soon_threadsafe``. A busy event loop therefore does
not inflate TTFT or inter-token latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nova.errors import MissingDependencyError
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
from nova.providers._types import ChatRequest, ChatResponse, Timings, ToolCall, Usage

__all__ = ["BedrockProvider", "build_request"]

_now = time.perf_counter_ns

# Converse stop reasons in the vocabulary of ChatResponse.finish_reason; others pass as they are.
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
}

_CONTEXT_HINTS = ("too long", "input length", "context", "too many input tokens")


def build_request(model: str, req: ChatRequest) -> dict[str, Any]:
    """Keyword arguments of ``converse``/``converse_stream`` for ``req``.

    ``seed``, ``ignore_eos`` and ``response_format`` have no Converse equivalent and are not
    sent; model-specific fields go through ``extra_body`` (e.g.
    ``{"additionalModelRequestFields": {"top_k": 40}}``). Raises ValueError when a tool call's
    arguments are not JSON.
    """
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for m in req.messages:
        if m.role == "system":
            system.append({"text": m.content or ""})
            continue
        blocks: list[dict[str, Any]] = []
        if m.role == "tool":
            role = "user"
            blocks.append(
                {
                    "toolResult": {
                        "toolUseId": m.tool_call_id or "",
                        "content": [{"text": m.content or ""}],
                    }
                }
            )
        else:
            role = m.role
            if m.content or not m.tool_calls:
                blocks.append({"text": m.content or ""})
            for call in m.tool_calls or []:
                try:
                    args = json.loads(call.arguments or "{}")
                except ValueError:
                    raise ValueError(
                        f"arguments of tool call {call.name!r} are not JSON: "
                        f"{call.arguments[:80]!r}"
                    ) from None
                blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": args}})
        # Converse wants alternating roles: tool results (role user) after an assistant turn
        # and consecutive turns of one role are merged into one message.
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    kwargs: dict[str, Any] = {"modelId": model, "messages": messages}
    if system:
        kwargs["system"] = system
    inference: dict[str, Any] = {}
    for field, key in (
        ("max_tokens", "maxTokens"),
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("stop", "stopSequences"),
    ):
        value = getattr(req, field)
        if value is not None:
            inference[key] = value
    if inference:
        kwargs["inferenceConfig"] = inference
    if req.tools:
        tool_config: dict[str, Any] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": t.name,
                        "description": t.description or t.name,
                        "inputSchema": {"json": t.parameters},
                    }
                }
                for t in req.tools
            ]
        }
        # "auto" is Converse's default and the only choice every model accepts, so it is not
        # sent; "none" has no Converse equivalent.
        if req.tool_choice == "required":
            tool_config["toolChoice"] = {"any": {}}
        elif req.tool_choice not in (None, "auto", "none"):
            tool_config["toolChoice"] = {"tool": {"name": req.tool_choice}}
        kwargs["toolConfig"] = tool_config
    kwargs.update(req.extra_body)
    return kwargs


def _finish(reason: str | None) -> str | None:
    return _STOP_REASONS.get(reason, reason) if reason else None


def _usage(usage: dict[str, Any] | None) -> Usage:
    if usage and (usage.get("inputTokens") is not None or usage.get("outputTokens") is not None):
        return Usage(
            prompt_tokens=usage.get("inputTokens"),
            completion_tokens=usage.get("outputTokens"),
            source="server",
        )
    return Usage()


class _StreamEventError(Exception):
    """An exception event inside the stream, given as a plain event dict."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class _StreamState:
    """Folds ConverseStream events into a ChatResponse; each event comes with its arrival
    time. Raises ``_StreamEventError`` for an exception event."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tools: dict[int, dict[str, str]] = {}
        self.chunk_times: list[int] = []
        self.t_first_token: int | None = None
        self.stop_reason: str | None = None
        self.metadata: dict[str, Any] = {}

    @property
    def partial_text(self) -> str:
        return "".join(self.text)

    def feed(self, t_ns: int, event: dict[str, Any]) -> None:
        for key, value in event.items():
            if key.endswith("Exception"):
                if isinstance(value, dict):
                    raise _StreamEventError(key, str(value.get("message") or ""))
                raise _StreamEventError(key, str(value))
        if "contentBlockStart" in event:
            ev = event["contentBlockStart"]
            tool = (ev.get("start") or {}).get("toolUse")
            if tool is not None:
                self.tools[int(ev.get("contentBlockIndex", 0))] = {
                    "id": tool.get("toolUseId") or "",
                    "name": tool.get("name") or "",
                    "arguments": "",
                }
        elif "contentBlockDelta" in event:
            ev = event["contentBlockDelta"]
            delta = ev.get("delta") or {}
            piece = delta.get("text")
            rpiece = (delta.get("reasoningContent") or {}).get("text")
            if piece or rpiece:
                self.chunk_times.append(t_ns)
                if self.t_first_token is None:
                    self.t_first_token = t_ns
                if piece:
                    self.text.append(piece)
                if rpiece:
                    self.reasoning.append(rpiece)
            if "toolUse" in delta:
                slot = self.tools.setdefault(
                    int(ev.get("contentBlockIndex", 0)), {"id": "", "name": "", "arguments": ""}
                )
                slot["arguments"] += delta["toolUse"].get("input") or ""
                if self.t_first_token is None:
                    self.t_first_token = t_ns
        elif "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason") or "end_turn"
        elif "metadata" in event:
            self.metadata = event["metadata"]

    def response(
        self, *, t_send: int, t_first_byte: int, t_end: int, request_id: str | None
    ) -> ChatResponse:
        calls = [
            ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"] or "{}")
            for _, c in sorted(self.tools.items())
        ]
        return ChatResponse(
            text=self.partial_text,
            reasoning="".join(self.reasoning) or None,
            tool_calls=calls,
            finish_reason=_finish(self.stop_reason),
            usage=_usage(self.metadata.get("usage")),
            request_id=request_id,
            timings=Timings(
                t_send_ns=t_send,
                t_first_byte_ns=t_first_byte,
                t_first_token_ns=self.t_first_token,
                t_last_token_ns=(self.chunk_times[-1] if self.chunk_times else self.t_first_token),
                t_end_ns=t_end,
                chunk_times_ns=self.chunk_times,
            ),
            raw={"stopReason": self.stop_reason, "metadata": self.metadata},
        )


def _from_converse(data: dict[str, Any], *, t_send: int, t_end: int) -> ChatResponse:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    for block in ((data.get("output") or {}).get("message") or {}).get("content") or []:
        if "text" in block:
            text.append(block["text"])
        elif "toolUse" in block:
            tu = block["toolUse"]
            calls.append(
                ToolCall(
                    id=tu.get("toolUseId") or "",
                    name=tu.get("name") or "",
                    arguments=json.dumps(tu.get("input", {}), ensure_ascii=False),
                )
            )
        elif "reasoningContent" in block:
            reasoning.append(
                (block["reasoningContent"].get("reasoningText") or {}).get("text") or ""
            )
    raw = {k: v for k, v in data.items() if k != "ResponseMetadata"}
    return ChatResponse(
        text="".join(text),
        reasoning="".join(reasoning) or None,
        tool_calls=calls,
        finish_reason=_finish(data.get("stopReason")),
        usage=_usage(data.get("usage")),
        request_id=(data.get("ResponseMetadata") or {}).get("RequestId"),
        timings=Timings(
            t_send_ns=t_send,
            t_first_byte_ns=t_end,
            t_first_token_ns=t_end,
            t_last_token_ns=t_end,
            t_end_ns=t_end,
        ),
        raw=raw,
    )


@register_provider("bedrock")
class BedrockProvider(Provider):
    """``bedrock/<model id>`` (e.g. ``bedrock/meta.llama3-1-70b-instruct-v1:0``), needs the
    ``nova[bedrock]`` extra. Set ``client`` before ``start`` to use a pre-built
    ``bedrock-runtime`` client (tests use a botocore Stubber this way)."""

    client: Any = None
    """The boto3 ``bedrock-runtime`` client; built by ``start`` when not set."""
    _executor: ThreadPoolExecutor | None = None

    def _make_client(self) -> Any:
        try:
            import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints
            from botocore.config import Config  # type: ignore[import-untyped]  # same
            from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]
        except ModuleNotFoundError:
            raise MissingDependencyError("AWS Bedrock provider", "bedrock", "boto3") from None
        s = self.candidate.provider
        opts = s.options
        config = Config(
            connect_timeout=s.connect_timeout_s,
            read_timeout=s.timeout_s,
            # One attempt: nova retries in CandidateClient, the same for every provider.
            # (botocore's "max_attempts" counts retries, so max_attempts=1 would mean two.)
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=max(s.max_concurrency, 10),
        )
        try:
            session = boto3.session.Session(
                profile_name=opts.get("profile") or None, region_name=s.region or None
            )
            return session.client(
                "bedrock-runtime", config=config, endpoint_url=opts.get("endpoint_url") or None
            )
        except BotoCoreError as exc:
            raise self._map_error(exc) from None

    async def start(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.candidate.provider.max_concurrency,
                thread_name_prefix=f"nova-bedrock-{self.candidate.id}",
            )
        if self.client is None:
            loop = asyncio.get_running_loop()
            self.client = await loop.run_in_executor(self._executor, self._make_client)

    async def close(self) -> None:
        if self._executor is not None:
            # Threads still in a call end at the botocore read timeout; don't wait for them.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # --- one attempt ----------------------------------------------------------------------
    async def chat(self, request: ChatRequest) -> ChatResponse:
        await self.start()
        try:
            kwargs = build_request(self.model, request)
        except ValueError as exc:
            raise BadRequestError(self.candidate.id, str(exc)) from None
        if request.stream:
            return await self._stream(kwargs)
        return await self._converse(kwargs)

    async def _converse(self, kwargs: dict[str, Any]) -> ChatResponse:
        def call() -> tuple[int, int, dict[str, Any]]:
            t_send = _now()
            data = self.client.converse(**kwargs)
            return t_send, _now(), data

        total = self.candidate.provider.timeout_s
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(total):
                t_send, t_end, data = await loop.run_in_executor(self._executor, call)
        except TimeoutError:
            raise TimeoutError_(
                self.candidate.id,
                f"no answer within {total:g} s (provider.timeout_s)",
                phase="total",
            ) from None
        except Exception as exc:
            raise self._map_error(exc) from None
        return _from_converse(data, t_send=t_send, t_end=t_end)

    def _pump(
        self,
        kwargs: dict[str, Any],
        put: Callable[[tuple[str, int, Any]], bool],
        stop: threading.Event,
    ) -> None:
        """Worker thread: call converse_stream and hand every event over with its arrival
        time: ("open", t, (t_send, response)), ("event", t, dict), ("end", t, None) or
        ("error", t, exception)."""
        stream: Any = None
        try:
            t_send = _now()
            resp = self.client.converse_stream(**kwargs)
            if not put(("open", _now(), (t_send, resp))):
                return
            stream = resp["stream"]
            for event in stream:
                if stop.is_set() or not put(("event", _now(), event)):
                    return
            put(("end", _now(), None))
        except Exception as exc:
            put(("error", _now(), exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # closing a dead stream may fail
                    close()

    async def _stream(self, kwargs: dict[str, Any]) -> ChatResponse:
        cid = self.candidate.id
        s = self.candidate.provider
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(item: tuple[str, int, Any]) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is closed: nobody is listening any more
                stop.set()
            return not stop.is_set()

        state = _StreamState()
        started = time.monotonic()
        first_deadline = started + (s.first_token_timeout_s or s.timeout_s)
        total_deadline = started + s.timeout_s
        t_send = t_first_byte = 0
        opened = False
        request_id: str | None = None
        worker = loop.run_in_executor(self._executor, self._pump, kwargs, put, stop)
        try:
            while True:
                waiting_first = state.t_first_token is None
                deadline = min(first_deadline, total_deadline) if waiting_first else total_deadline
                try:
                    kind, t, payload = await asyncio.wait_for(
                        queue.get(), deadline - time.monotonic()
                    )
                except TimeoutError:
                    first = waiting_first and first_deadline < total_deadline
                    raise TimeoutError_(
                        cid,
                        f"no {'first token' if first else 'complete answer'} within "
                        f"{(first_deadline if first else total_deadline) - started:g} s "
                        f"(provider.{'first_token_timeout_s' if first else 'timeout_s'})",
                        phase="first_token" if first else "total",
                        request_id=request_id,
                        partial_text=state.partial_text,
                    ) from None
                if kind == "open":
                    t_send, resp = payload
                    t_first_byte, opened = t, True
                    request_id = (resp.get("ResponseMetadata") or {}).get("RequestId")
                elif kind == "event":
                    try:
                        state.feed(t, payload)
                    except _StreamEventError as exc:
                        raise self._stream_error(exc.code, exc.message, state, request_id) from None
                elif kind == "error":
                    raise self._map_error(
                        payload, state=state if opened else None, request_id=request_id
                    ) from None
                else:
                    if state.stop_reason is None:
                        raise StreamCutError(
                            cid,
                            f"stream ended after {len(state.chunk_times)} chunks without "
                            "messageStop",
                            request_id=request_id,
                            partial_text=state.partial_text,
                        )
                    return state.response(
                        t_send=t_send, t_first_byte=t_first_byte, t_end=t, request_id=request_id
                    )
        finally:
            stop.set()
            if not worker.done():
                # The thread ends at its next event or at the read timeout.
                worker.add_done_callback(lambda f: f.cancelled() or f.exception())

    # --- errors ---------------------------------------------------------------------------
    def _access_hint(self) -> str:
        s = self.candidate.provider
        profile = s.options.get("profile")
        who = f"profile {profile!r}" if profile else "AWS_PROFILE or AWS_ACCESS_KEY_ID"
        return (
            f"check the AWS credentials ({who}) and that access to model {self.model!r} "
            f"is granted in the Bedrock console for region {s.region or '(default)'}"
        )

    def _from_code(
        self, code: str, message: str, *, status: int | None = None, request_id: str | None = None
    ) -> ProviderError:
        """The nova error for an AWS error code (``ThrottlingException`` or, inside a
        stream, ``throttlingException``)."""
        cid = self.candidate.id
        name = code[:1].upper() + code[1:]
        low = message.lower()
        msg = f"{name}: {message.strip()[:300]}"
        kw: dict[str, Any] = {"status": status, "request_id": request_id}
        if name in (
            "AccessDeniedException",
            "UnrecognizedClientException",
            "ExpiredTokenException",
            "InvalidSignatureException",
        ):
            return AuthError(cid, f"{msg} — {self._access_hint()}", **kw)
        if name == "ResourceNotFoundException" or (
            name == "ValidationException" and "model identifier is invalid" in low
        ):
            return ModelNotFoundError(
                cid,
                f"{msg} — check the model id {self.model!r} and that "
                f"Bedrock offers it in {self.candidate.provider.region}",
                **kw,
            )
        if name == "ValidationException":
            if any(h in low for h in _CONTEXT_HINTS):
                return ContextLengthError(
                    cid, f"{msg} — shorten the prompt or lower max_tokens", **kw
                )
            if "on-demand throughput" in low:
                msg += f" — use an inference profile id, e.g. bedrock/eu.{self.model}, as the model"
            return BadRequestError(cid, msg, **kw)
        if name in ("ThrottlingException", "ServiceQuotaExceededException"):
            return RateLimitError(
                cid,
                f"{msg} — lower provider.max_concurrency or set "
                "provider.rpm/tpm to the account's Bedrock quota",
                **kw,
            )
        if name == "ModelTimeoutException":
            return TimeoutError_(cid, msg, phase="total", **kw)
        if name in (
            "InternalServerException",
            "ServiceUnavailableException",
            "ModelNotReadyException",
            "ModelStreamErrorException",
            "ModelErrorException",
        ) or (status is not None and status >= 500):
            return ServerError(cid, msg, **kw)
        return BadRequestError(cid, msg, **kw)

    def _stream_error(
        self, code: str, message: str, state: _StreamState, request_id: str | None
    ) -> ProviderError:
        """An error inside an open stream: a cut stream once text arrived (or when the model
        failed mid-way), else the error its code names."""
        if code.lower() == "modelstreamerrorexception" or state.chunk_times or state.tools:
            return StreamCutError(
                self.candidate.id,
                f"stream cut after {len(state.chunk_times)} chunks: {code}: {message}",
                request_id=request_id,
                partial_text=state.partial_text,
            )
        err = self._from_code(code, message, request_id=request_id)
        err.partial_text = ""
        return err

    def _map_error(
        self,
        exc: BaseException,
        *,
        state: _StreamState | None = None,
        request_id: str | None = None,
    ) -> ProviderError:
        """The nova error for an exception of boto3; ``state`` is given once the stream was
        open, where any failure cuts the stream."""
        import botocore.exceptions as bce  # type: ignore[import-untyped]  # no type hints

        cid = self.candidate.id
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, bce.ClientError):
            err = exc.response.get("Error") or {}
            meta = exc.response.get("ResponseMetadata") or {}
            code, message = str(err.get("Code") or ""), str(err.get("Message") or exc)
            rid = meta.get("RequestId") or request_id
            if state is not None:
                return self._stream_error(code, message, state, rid)
            return self._from_code(code, message, status=meta.get("HTTPStatusCode"), request_id=rid)
        if state is not None:
            return StreamCutError(
                cid,
                f"stream cut after {len(state.chunk_times)} chunks: {type(exc).__name__}: {exc}",
                request_id=request_id,
                partial_text=state.partial_text,
            )
        if isinstance(exc, bce.ConnectTimeoutError):
            return TimeoutError_(
                cid, f"connect timed out (provider.connect_timeout_s): {exc}", phase="connect"
            )
        if isinstance(exc, bce.ReadTimeoutError):
            return TimeoutError_(
                cid,
                f"no response within {self.candidate.provider.timeout_s:g}"
                f" s (provider.timeout_s): {exc}",
                phase="total",
            )
        if isinstance(exc, bce.EndpointConnectionError | bce.ConnectionClosedError):
            return UnreachableError(
                cid,
                f"cannot reach Bedrock: {exc} — check "
                "provider.region, provider.options.endpoint_url and the "
                "network or proxy",
            )
        if isinstance(
            exc,
            bce.NoCredentialsError
            | bce.PartialCredentialsError
            | bce.ProfileNotFound
            | bce.CredentialRetrievalError
            | bce.SSOError
            | bce.TokenRetrievalError,
        ):
            return AuthError(cid, f"{type(exc).__name__}: {exc} — {self._access_hint()}")
        if isinstance(exc, bce.NoRegionError):
            return BadRequestError(cid, "no AWS region: set provider.region, e.g. eu-central-1")
        if isinstance(exc, bce.ParamValidationError):
            return BadRequestError(cid, f"request rejected by boto3 before sending: {exc}")
        if isinstance(exc, bce.HTTPClientError):
            return UnreachableError(cid, f"connection failed: {exc}")
        if isinstance(exc, bce.BotoCoreError):
            return ServerError(cid, f"{type(exc).__name__}: {exc}")
        raise exc
