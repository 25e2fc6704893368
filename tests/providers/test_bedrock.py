"""The Bedrock adapter, offline: a real ``bedrock-runtime`` client behind a botocore Stubber,
real event-stream bytes for ConverseStream, and small fake clients for transport failures."""

from __future__ import annotations

import asyncio
import binascii
import json
import os
import struct
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions as bce
import pytest
from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser
from botocore.stub import Stubber

from nova.config import Candidate
from nova.errors import MissingDependencyError
from nova.providers import (
    AuthError,
    BadRequestError,
    ChatRequest,
    ChatResponse,
    ContextLengthError,
    Message,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamCutError,
    TimeoutError_,
    ToolCall,
    ToolSpec,
    UnreachableError,
    create_provider,
)
from nova.providers._bedrock import BedrockProvider, _StreamState, build_request
from tests._services import free_port

MODEL = "meta.llama3-1-70b-instruct-v1:0"
HI = [Message(role="user", content="Hallo")]


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and no AWS config of the developer: nothing can reach AWS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "test-token")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def cand(**provider: Any) -> Candidate:
    return Candidate.model_validate(
        {
            "id": "llama70b",
            "model": f"bedrock/{MODEL}",
            "provider": {"region": "eu-central-1", **provider},
        }
    )


def chat(p: BedrockProvider, req: ChatRequest) -> ChatResponse:
    async def go() -> ChatResponse:
        try:
            return await p.chat(req)
        finally:
            await p.close()

    return asyncio.run(go())


def chat_error(p: BedrockProvider, req: ChatRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        chat(p, req)
    return info.value


@pytest.fixture
def stubbed() -> Iterator[tuple[BedrockProvider, Stubber]]:
    """A provider whose real bedrock-runtime client answers from a Stubber."""
    p = BedrockProvider(cand())
    p.client = p._make_client()
    with Stubber(p.client) as stub:
        yield p, stub
        stub.assert_no_pending_responses()


# --- event-stream bytes, as Bedrock sends them -----------------------------------------------
def _frame(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    h = b"".join(
        struct.pack("B", len(k)) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
        for k, v in headers.items()
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(h) + len(body) + 4, len(h))
    msg = prelude + struct.pack(">I", binascii.crc32(prelude)) + h + body
    return msg + struct.pack(">I", binascii.crc32(msg))


def event(name: str, payload: dict[str, Any]) -> bytes:
    return _frame(
        {":message-type": "event", ":event-type": name, ":content-type": "application/json"},
        payload,
    )


def exception(name: str, message: str) -> bytes:
    return _frame(
        {
            ":message-type": "exception",
            ":exception-type": name,
            ":content-type": "application/json",
        },
        {"message": message},
    )


def delta(text: str, index: int = 0) -> bytes:
    return event("contentBlockDelta", {"delta": {"text": text}, "contentBlockIndex": index})


STOP = event("messageStop", {"stopReason": "end_turn"})
META = event(
    "metadata",
    {
        "usage": {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10},
        "metrics": {"latencyMs": 321},
    },
)


class RawBody:
    """The HTTP body under an EventStream: frames, then optionally an exception."""

    def __init__(self, frames: Iterable[bytes], fail: Exception | None = None) -> None:
        self.frames = list(frames)
        self.fail = fail
        self.closed = False

    def stream(self) -> Iterator[bytes]:
        yield from self.frames
        if self.fail is not None:
            raise self.fail

    def close(self) -> None:
        self.closed = True


def stub_stream(
    p: BedrockProvider, stub: Stubber, body: RawBody, expected: dict[str, Any] | None = None
) -> None:
    """Stub converse_stream with a real EventStream over ``body``.

    The Stubber validates a response against the output shape, which wants a dict for
    ``stream``; an after-call hook puts the EventStream in its place, as botocore's parser would.
    """
    shape = p.client.meta.service_model.operation_model("ConverseStream").output_shape
    stream = EventStream(body, shape.members["stream"], EventStreamJSONParser(), "ConverseStream")

    def swap(parsed: dict[str, Any], **_: Any) -> None:
        parsed["stream"] = stream

    p.client.meta.events.register("after-call.bedrock-runtime.ConverseStream", swap)
    stub.add_response(
        "converse_stream",
        {"stream": {}, "ResponseMetadata": {"RequestId": "r-1"}},
        expected
        if expected is not None
        else {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": "Hallo"}]}]},
    )


# --- request shape ---------------------------------------------------------------------------
def test_request_shape_sent_to_converse(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    req = ChatRequest(
        messages=[
            Message(role="system", content="Du bist Sophia."),
            Message(role="user", content="Ich will kündigen."),
            Message(
                role="assistant",
                content=None,
                tool_calls=[
                    ToolCall(id="t1", name="escalate_to_human", arguments='{"reason": "cancel"}')
                ],
            ),
            Message(role="tool", tool_call_id="t1", content="ticket 42"),
            Message(role="user", content="Danke"),
        ],
        max_tokens=64,
        temperature=0.2,
        top_p=0.9,
        stop=["###"],
        seed=7,
        stream=False,
        tools=[
            ToolSpec(
                name="escalate_to_human",
                description="Hand over",
                parameters={"type": "object", "properties": {"reason": {"type": "string"}}},
            )
        ],
        tool_choice="required",
    )
    stub.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "Gern."}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 30, "outputTokens": 2, "totalTokens": 32},
            "metrics": {"latencyMs": 120},
            "ResponseMetadata": {"RequestId": "req-9"},
        },
        {
            "modelId": MODEL,
            "system": [{"text": "Du bist Sophia."}],
            "messages": [
                {"role": "user", "content": [{"text": "Ich will kündigen."}]},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "toolUse": {
                                "toolUseId": "t1",
                                "name": "escalate_to_human",
                                "input": {"reason": "cancel"},
                            }
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"toolResult": {"toolUseId": "t1", "content": [{"text": "ticket 42"}]}},
                        {"text": "Danke"},
                    ],
                },
            ],
            "inferenceConfig": {
                "maxTokens": 64,
                "temperature": 0.2,
                "topP": 0.9,
                "stopSequences": ["###"],
            },
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "escalate_to_human",
                            "description": "Hand over",
                            "inputSchema": {
                                "json": {
                                    "type": "object",
                                    "properties": {"reason": {"type": "string"}},
                                }
                            },
                        }
                    }
                ],
                "toolChoice": {"any": {}},
            },
        },
    )
    r = chat(p, req)
    assert r.text == "Gern."
    assert r.finish_reason == "stop"
    assert r.usage.prompt_tokens == 30 and r.usage.completion_tokens == 2
    assert r.usage.source == "server"
    assert r.request_id == "req-9"
    assert r.raw is not None and r.raw["metrics"] == {"latencyMs": 120}
    assert "ResponseMetadata" not in r.raw
    t = r.timings
    assert t.t_first_byte_ns is not None and t.t_send_ns < t.t_first_byte_ns
    assert t.t_end_ns == t.t_first_byte_ns


def test_request_options() -> None:
    body = build_request(
        MODEL,
        ChatRequest(
            messages=HI,
            tools=[ToolSpec(name="lookup")],
            tool_choice="lookup",
            extra_body={"additionalModelRequestFields": {"top_k": 40}},
        ),
    )
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "lookup"}}
    # A tool without description still gets one: Bedrock rejects an empty description.
    assert body["toolConfig"]["tools"][0]["toolSpec"]["description"] == "lookup"
    assert body["additionalModelRequestFields"] == {"top_k": 40}
    assert "inferenceConfig" not in body and "system" not in body
    auto = build_request(
        MODEL, ChatRequest(messages=HI, tools=[ToolSpec(name="lookup")], tool_choice="auto")
    )
    assert "toolChoice" not in auto["toolConfig"]


def test_tool_call_arguments_must_be_json() -> None:
    req = ChatRequest(
        stream=False,
        messages=[
            *HI,
            Message(role="assistant", tool_calls=[ToolCall(id="t", name="f", arguments="{x")]),
        ],
    )
    err = chat_error(BedrockProvider(cand()), req)
    assert isinstance(err, BadRequestError)
    assert "llama70b" in str(err) and "not JSON" in str(err)


# --- non-streaming answers ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("stop_sequence", "stop"),
        ("content_filtered", "content_filter"),
        ("guardrail_intervened", "guardrail_intervened"),
    ],
)
def test_finish_reason(
    stubbed: tuple[BedrockProvider, Stubber], reason: str, expected: str
) -> None:
    p, stub = stubbed
    stub.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "a b"}]}},
            "stopReason": reason,
            "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
            "metrics": {"latencyMs": 5},
        },
    )
    r = chat(p, ChatRequest(messages=HI, stream=False))
    assert (r.text, r.finish_reason) == ("a b", expected)


def test_tool_use_answer(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    stub.add_response(
        "converse",
        {
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [
                        {"text": "Ich verbinde Sie."},
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_1",
                                "name": "escalate_to_human",
                                "input": {"reason": "Kündigung", "priority": 2},
                            }
                        },
                    ],
                }
            },
            "stopReason": "tool_use",
            "usage": {"inputTokens": 40, "outputTokens": 20, "totalTokens": 60},
            "metrics": {"latencyMs": 300},
        },
    )
    r = chat(p, ChatRequest(messages=HI, stream=False))
    assert r.finish_reason == "tool_calls"
    assert r.text == "Ich verbinde Sie."
    [call] = r.tool_calls
    assert (call.id, call.name) == ("tooluse_1", "escalate_to_human")
    assert json.loads(call.arguments) == {"reason": "Kündigung", "priority": 2}


# --- error mapping ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "message", "status", "cls", "hint"),
    [
        (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
            403,
            AuthError,
            "Bedrock console for region eu-central-1",
        ),
        (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            403,
            AuthError,
            "AWS credentials",
        ),
        ("ResourceNotFoundException", "Model not found.", 404, ModelNotFoundError, MODEL),
        (
            "ValidationException",
            "The provided model identifier is invalid.",
            400,
            ModelNotFoundError,
            MODEL,
        ),
        (
            "ValidationException",
            "Input is too long for requested model.",
            400,
            ContextLengthError,
            "max_tokens",
        ),
        (
            "ValidationException",
            "This model's maximum context length is 8192 tokens.",
            400,
            ContextLengthError,
            "shorten",
        ),
        (
            "ValidationException",
            "Malformed input request: temperature must be <= 1.",
            400,
            BadRequestError,
            "temperature",
        ),
        (
            "ValidationException",
            "Invocation of model ID with on-demand throughput isn't supported.",
            400,
            BadRequestError,
            f"bedrock/eu.{MODEL}",
        ),
        (
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
            429,
            RateLimitError,
            "max_concurrency",
        ),
        ("ServiceQuotaExceededException", "Quota exceeded.", 400, RateLimitError, "quota"),
        ("ModelTimeoutException", "Model timed out.", 408, TimeoutError_, "timed out"),
        ("InternalServerException", "Internal error.", 500, ServerError, "Internal"),
        ("ServiceUnavailableException", "Unavailable.", 503, ServerError, "Unavailable"),
        ("ModelNotReadyException", "Model is not ready.", 429, ServerError, "not ready"),
    ],
)
def test_client_errors(
    stubbed: tuple[BedrockProvider, Stubber],
    code: str,
    message: str,
    status: int,
    cls: type[ProviderError],
    hint: str,
) -> None:
    p, stub = stubbed
    stub.add_client_error("converse", code, message, status, response_meta={"RequestId": "req-err"})
    err = chat_error(p, ChatRequest(messages=HI, stream=False))
    assert type(err) is cls
    assert str(err).startswith("candidate llama70b, request req-err: ")
    assert code in str(err) and hint in str(err)
    assert err.status == status
    if isinstance(err, TimeoutError_):
        assert err.phase == "total"
    assert err.retryable == cls.retryable


class RaisingClient:
    """A client whose calls fail before any answer, as botocore does for transport errors."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def converse(self, **_: Any) -> Any:
        raise self.exc

    converse_stream = converse


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (bce.EndpointConnectionError(endpoint_url="https://bedrock-runtime.x"), UnreachableError),
        (bce.NoCredentialsError(), AuthError),
        (bce.ConnectTimeoutError(endpoint_url="https://bedrock-runtime.x"), TimeoutError_),
        (bce.ReadTimeoutError(endpoint_url="https://bedrock-runtime.x"), TimeoutError_),
        (bce.ParamValidationError(report="bad"), BadRequestError),
    ],
)
def test_transport_errors(exc: Exception, cls: type[ProviderError], stream: bool) -> None:
    p = BedrockProvider(cand())
    p.client = RaisingClient(exc)
    err = chat_error(p, ChatRequest(messages=HI, stream=stream))
    assert type(err) is cls and "llama70b" in str(err)


def test_no_credentials_from_a_real_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    # Signing fails before any connection; the endpoint is local anyway.
    p = BedrockProvider(cand(options={"endpoint_url": f"http://127.0.0.1:{free_port()}"}))
    err = chat_error(p, ChatRequest(messages=HI, stream=False))
    assert isinstance(err, AuthError)
    assert "NoCredentialsError" in str(err) and "AWS_PROFILE" in str(err)


def test_unreachable_endpoint_from_a_real_client() -> None:
    port = free_port()  # nothing listens there
    p = BedrockProvider(
        cand(options={"endpoint_url": f"http://127.0.0.1:{port}"}, connect_timeout_s=2)
    )
    err = chat_error(p, ChatRequest(messages=HI, stream=True))
    assert isinstance(err, UnreachableError)
    assert f"127.0.0.1:{port}" in str(err)


# --- client construction ----------------------------------------------------------------------
def test_client_settings() -> None:
    p = BedrockProvider(
        cand(
            timeout_s=42,
            connect_timeout_s=3,
            max_concurrency=32,
            options={"endpoint_url": "https://vpce-1.bedrock-runtime.example"},
        )
    )
    client = p._make_client()
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.endpoint_url == "https://vpce-1.bedrock-runtime.example"
    cfg = client.meta.config
    assert (cfg.read_timeout, cfg.connect_timeout) == (42, 3)
    assert cfg.retries == {"mode": "standard", "total_max_attempts": 1}  # no retries
    assert cfg.max_pool_connections == 32


def test_profile(tmp_path: Path) -> None:
    (tmp_path / "aws-config").write_text("[profile nova-test]\nregion = us-east-1\n")
    (tmp_path / "aws-credentials").write_text(
        "[nova-test]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n"
    )
    client = BedrockProvider(cand(options={"profile": "nova-test"}))._make_client()
    assert client._request_signer._credentials.access_key == "AKIAPROFILE"
    # provider.region wins over the profile's region.
    assert client.meta.region_name == "eu-central-1"

    with pytest.raises(AuthError, match=r"ProfileNotFound.*profile 'nope'"):
        BedrockProvider(cand(options={"profile": "nope"}))._make_client()


def test_missing_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    p = BedrockProvider(cand())

    async def go() -> None:
        try:
            await p.start()
        finally:
            await p.close()

    with pytest.raises(MissingDependencyError, match=r"pip install 'nova\[bedrock\]'"):
        asyncio.run(go())


def test_registered() -> None:
    assert isinstance(create_provider(cand()), BedrockProvider)


# --- streaming -------------------------------------------------------------------------------
def test_stream(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    body = RawBody(
        [
            event("messageStart", {"role": "assistant"}),
            delta("Guten "),
            delta("Tag"),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            STOP,
            META,
        ]
    )
    stub_stream(p, stub, body)
    r = chat(p, ChatRequest(messages=HI))
    assert r.text == "Guten Tag"
    assert r.finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.source) == (7, 3, "server")
    assert r.request_id == "r-1"
    assert r.raw is not None and r.raw["metadata"]["metrics"]["latencyMs"] == 321
    t = r.timings
    assert len(t.chunk_times_ns) == 2
    assert t.t_first_byte_ns is not None and t.t_end_ns is not None
    assert t.t_send_ns < t.t_first_byte_ns <= t.chunk_times_ns[0] <= t.chunk_times_ns[1]
    assert t.t_first_token_ns == t.chunk_times_ns[0]
    assert t.t_last_token_ns == t.chunk_times_ns[1] <= t.t_end_ns
    assert body.closed


def test_stream_request_shape(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    stub_stream(
        p,
        stub,
        RawBody([delta("ok"), STOP, META]),
        {
            "modelId": MODEL,
            "system": [{"text": "kurz"}],
            "messages": [{"role": "user", "content": [{"text": "Hallo"}]}],
            "inferenceConfig": {"maxTokens": 5},
        },
    )
    r = chat(p, ChatRequest(messages=[Message(role="system", content="kurz"), *HI], max_tokens=5))
    assert r.text == "ok"


def test_stream_tool_use(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    stub_stream(
        p,
        stub,
        RawBody(
            [
                delta("Moment."),
                event("contentBlockStop", {"contentBlockIndex": 0}),
                event(
                    "contentBlockStart",
                    {
                        "start": {"toolUse": {"toolUseId": "tu-1", "name": "escalate_to_human"}},
                        "contentBlockIndex": 1,
                    },
                ),
                event(
                    "contentBlockDelta",
                    {"delta": {"toolUse": {"input": '{"reason": '}}, "contentBlockIndex": 1},
                ),
                event(
                    "contentBlockDelta",
                    {"delta": {"toolUse": {"input": '"Kündigung"}'}}, "contentBlockIndex": 1},
                ),
                event("contentBlockStop", {"contentBlockIndex": 1}),
                event("messageStop", {"stopReason": "tool_use"}),
                META,
            ]
        ),
    )
    r = chat(p, ChatRequest(messages=HI))
    assert r.finish_reason == "tool_calls"
    assert r.text == "Moment."
    assert r.tool_calls == [
        ToolCall(id="tu-1", name="escalate_to_human", arguments='{"reason": "Kündigung"}')
    ]


def test_stream_error_event_mid_way(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    body = RawBody([delta("Guten "), exception("modelStreamErrorException", "model crashed")])
    stub_stream(p, stub, body)
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, StreamCutError)
    assert err.partial_text == "Guten "
    assert "modelStreamErrorException" in str(err) and "model crashed" in str(err)
    assert err.request_id == "r-1"
    assert body.closed


def test_stream_throttled_before_text(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    stub_stream(
        p,
        stub,
        RawBody(
            [
                event("messageStart", {"role": "assistant"}),
                exception("throttlingException", "slow down"),
            ]
        ),
    )
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, RateLimitError) and "slow down" in str(err)


def test_stream_transport_cut(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    stub_stream(
        p,
        stub,
        RawBody(
            [delta("Guten ")], fail=bce.ResponseStreamingError(error="connection reset by peer")
        ),
    )
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, StreamCutError)
    assert err.partial_text == "Guten " and "connection reset" in str(err)


def test_stream_without_message_stop(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    stub_stream(p, stub, RawBody([delta("Guten ")]))
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, StreamCutError) and err.partial_text == "Guten "


def test_stream_call_rejected(stubbed: tuple[BedrockProvider, Stubber]) -> None:
    p, stub = stubbed
    stub.add_client_error("converse_stream", "AccessDeniedException", "no access", 403)
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, AuthError) and "Bedrock console" in str(err)


class SlowClient:
    """converse_stream returns at once; events then arrive with pauses, like a real model."""

    def __init__(self, events: list[tuple[float, dict[str, Any]]]) -> None:
        self.events = events

    def _gen(self) -> Iterator[dict[str, Any]]:
        for pause, ev in self.events:
            time.sleep(pause)
            yield ev

    def converse_stream(self, **_: Any) -> dict[str, Any]:
        return {"stream": self._gen()}

    def converse(self, **_: Any) -> dict[str, Any]:
        time.sleep(0.5)
        return {}


def _delta(text: str) -> dict[str, Any]:
    return {"contentBlockDelta": {"delta": {"text": text}, "contentBlockIndex": 0}}


def test_stream_times_are_arrival_times() -> None:
    p = BedrockProvider(cand())
    p.client = SlowClient(
        [(0.08, _delta("a")), (0.08, _delta("b")), (0, {"messageStop": {"stopReason": "end_turn"}})]
    )
    r = chat(p, ChatRequest(messages=HI))
    t = r.timings
    assert r.text == "ab"
    assert t.t_first_byte_ns is not None and t.t_first_token_ns is not None
    assert t.t_first_token_ns - t.t_first_byte_ns >= 60_000_000
    assert t.chunk_times_ns[1] - t.chunk_times_ns[0] >= 60_000_000
    assert r.usage.source == "none"  # no metadata event: nothing invented


def test_first_token_timeout() -> None:
    p = BedrockProvider(cand(first_token_timeout_s=0.1, timeout_s=5))
    p.client = SlowClient([(0.4, _delta("late"))])
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, TimeoutError_) and err.phase == "first_token"
    assert "first_token_timeout_s" in str(err)


def test_total_timeout_keeps_partial_text() -> None:
    p = BedrockProvider(cand(timeout_s=0.2))
    p.client = SlowClient([(0, _delta("Guten ")), (0.5, _delta("Tag"))])
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, TimeoutError_) and err.phase == "total"
    assert err.partial_text == "Guten "


def test_converse_timeout() -> None:
    p = BedrockProvider(cand(timeout_s=0.1))
    p.client = SlowClient([])
    err = chat_error(p, ChatRequest(messages=HI, stream=False))
    assert isinstance(err, TimeoutError_) and err.phase == "total"


def test_stream_state_from_plain_events() -> None:
    """The event folding on its own, with event dicts as boto3 yields them."""
    s = _StreamState()
    for i, ev in enumerate(
        [
            {"messageStart": {"role": "assistant"}},
            {
                "contentBlockDelta": {
                    "delta": {"reasoningContent": {"text": "hm"}},
                    "contentBlockIndex": 0,
                }
            },
            {"contentBlockDelta": {"delta": {"text": "Ja"}, "contentBlockIndex": 1}},
            {
                "contentBlockStart": {
                    "start": {"toolUse": {"toolUseId": "a", "name": "noargs"}},
                    "contentBlockIndex": 2,
                }
            },
            {"messageStop": {"stopReason": "max_tokens"}},
            {"metadata": {"usage": {"inputTokens": 1, "outputTokens": 2}}},
        ]
    ):
        s.feed(100 + i, ev)
    r = s.response(t_send=1, t_first_byte=50, t_end=200, request_id=None)
    assert (r.text, r.reasoning, r.finish_reason) == ("Ja", "hm", "length")
    assert r.tool_calls == [ToolCall(id="a", name="noargs", arguments="{}")]
    assert r.timings.t_first_token_ns == 101 and r.timings.chunk_times_ns == [101, 102]
    assert r.usage.completion_tokens == 2 and r.usage.source == "server"


def test_stream_exception_event_as_dict() -> None:
    p = BedrockProvider(cand())
    p.client = SlowClient(
        [(0, _delta("Gu")), (0, {"modelStreamErrorException": {"message": "boom"}})]
    )
    err = chat_error(p, ChatRequest(messages=HI))
    assert isinstance(err, StreamCutError) and err.partial_text == "Gu" and "boom" in str(err)
