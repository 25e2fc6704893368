"""The OpenAI chat completions wire format: request validation and response building."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nova.gateway._errors import ApiError
from nova.providers import ChatRequest, Message, ToolSpec

__all__ = ["ChatBody", "parse_chat_body", "to_chat_request"]


class _ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    """Part type; only ``text`` is served."""
    text: str | None = None
    """Text of a ``text`` part."""


class _InMessage(BaseModel):
    # OpenAI clients send fields nova does not use (``name``, ``refusal`` …): ignored, and
    # never forwarded, so an unknown field cannot reach the model server either.
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    """Who speaks (``developer`` is treated as ``system``)."""
    content: str | list[_ContentPart] | None = None
    """Text, or a list of text parts."""
    tool_calls: list[dict[str, Any]] | None = None
    """Tool calls of an assistant message."""
    tool_call_id: str | None = None
    """For ``tool`` messages: the call answered."""


class ChatBody(BaseModel):
    """The fields of a chat completions request the gateway understands."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    """Candidate id to answer."""
    messages: list[_InMessage] = Field(min_length=1, max_length=10_000)
    """The conversation."""
    stream: bool = False
    """Stream the answer as server-sent events."""
    stream_options: dict[str, Any] | None = None
    """``{"include_usage": true}`` adds a usage chunk at the end of a stream."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Most output tokens."""
    max_completion_tokens: int | None = Field(default=None, ge=1)
    """Newer name of ``max_tokens``."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    """Sampling temperature."""
    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling."""
    stop: str | list[str] | None = None
    """Stop sequences."""
    seed: int | None = None
    """Sampling seed."""
    tools: list[dict[str, Any]] | None = None
    """Functions the model may call."""
    tool_choice: str | dict[str, Any] | None = None
    """``auto``, ``none``, ``required`` or a function."""
    response_format: dict[str, Any] | None = None
    """Structured output format."""
    n: int = Field(default=1, ge=1, le=1)
    """Number of answers; only 1 is served."""

    @field_validator("model")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.isprintable():
            raise ValueError("model must be printable text")
        return v

    @property
    def output_limit(self) -> int | None:
        """``max_completion_tokens`` or ``max_tokens``."""
        return self.max_completion_tokens or self.max_tokens


def parse_chat_body(raw: bytes, max_tokens_limit: int) -> ChatBody:
    """Validate a request body; every problem becomes a 400 ``ApiError`` naming the field."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(data):
        raise ApiError(
            400,
            "request body is not valid Unicode: a \\uD800-\\uDFFF escape without its pair "
            "(a lone UTF-16 surrogate)",
        )
    try:
        body = ChatBody.model_validate(data)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in e["loc"]) or None
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ApiError(400, f"{param}: {e['msg']}{more}", param=param) from None
    limit = body.output_limit
    if limit is not None and limit > max_tokens_limit:
        raise ApiError(
            400,
            f"max_tokens {limit} is larger than this gateway allows ({max_tokens_limit})",
            param="max_tokens",
        )
    return body


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_encode = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(..., ensure_ascii=False)`` without building an encoder per call (per token)."""


def _lone_surrogate(data: Any) -> bool:
    # JSON may escape a surrogate without its pair; Python then holds a string that is not
    # Unicode text (it cannot be stored, hashed or sent on as UTF-8). Checked only for bodies
    # with surrogate escapes at all (pairs, e.g. emoji from ensure_ascii clients, included).
    try:
        _encode(data).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _text(content: str | list[_ContentPart] | None, i: int) -> str | None:
    if content is None or isinstance(content, str):
        return content
    parts = []
    for j, p in enumerate(content):
        if p.type != "text" or p.text is None:
            raise ApiError(
                400,
                f"messages[{i}].content[{j}]: only text parts are served (got {p.type!r})",
                param=f"messages.{i}.content.{j}",
            )
        parts.append(p.text)
    return "".join(parts)


def plain_messages(body: ChatBody) -> list[dict[str, str]]:
    """The conversation as ``[{"role", "content"}]`` (what the rails check)."""
    return [
        {
            "role": "system" if m.role == "developer" else m.role,
            "content": _text(m.content, i) or "",
        }
        for i, m in enumerate(body.messages)
    ]


def to_chat_request(
    body: ChatBody, messages: list[dict[str, str]], system_prompt: str | None
) -> ChatRequest:
    """The provider-neutral request for ``body`` with (possibly redacted) ``messages``."""
    msgs: list[Message] = []
    if system_prompt:
        msgs.append(Message(role="system", content=system_prompt))
    if len(messages) != len(body.messages):
        # The rails changed the conversation's shape: send what they returned, as text.
        msgs += [
            Message(
                role="system" if m["role"] == "developer" else m["role"],
                content=m["content"],
            )
            for m in messages
        ]
        return _request(body, msgs)
    for src, m in zip(body.messages, messages, strict=True):
        role = "system" if src.role == "developer" else src.role
        calls = None
        if src.tool_calls:
            from nova.providers import ToolCall

            calls = [
                ToolCall(
                    id=str(c.get("id") or ""),
                    name=str((c.get("function") or {}).get("name") or ""),
                    arguments=str((c.get("function") or {}).get("arguments") or ""),
                )
                for c in src.tool_calls
            ]
        msgs.append(
            Message(
                role=role,
                content=m["content"] if (src.content is not None or not calls) else None,
                tool_calls=calls,
                tool_call_id=src.tool_call_id,
            )
        )
    return _request(body, msgs)


def _request(body: ChatBody, msgs: list[Message]) -> ChatRequest:
    tools = None
    if body.tools:
        tools = []
        for i, t in enumerate(body.tools):
            fn = t.get("function") if isinstance(t, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise ApiError(400, f"tools[{i}] needs function.name", param=f"tools.{i}")
            tools.append(
                ToolSpec(
                    name=fn["name"],
                    description=str(fn.get("description") or ""),
                    parameters=fn.get("parameters") or {"type": "object", "properties": {}},
                )
            )
    choice = body.tool_choice
    if isinstance(choice, dict):
        choice = str((choice.get("function") or {}).get("name") or "auto")
    stop = [body.stop] if isinstance(body.stop, str) else body.stop
    return ChatRequest(
        messages=msgs,
        max_tokens=body.output_limit,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=stop,
        seed=body.seed,
        tools=tools,
        tool_choice=choice,
        response_format=body.response_format,
        stream=body.stream,
    )


def estimate_prompt_tokens(messages: list[dict[str, str]]) -> int:
    """About 4 characters per token: for reservations only, never reported as usage."""
    return sum(len(m["content"]) for m in messages) // 4 + 4 * len(messages)


class ChunkWriter:
    """Builds the SSE chunks of one streamed answer; the constant part is encoded once."""

    def __init__(self, rid: str, model: str, marker: bool) -> None:
        self.created = int(time.time())
        mark = ',"ai_generated":true' if marker else ""
        self._pre = (
            f'data: {{"id":"{rid}","object":"chat.completion.chunk","created":{self.created},'
            f'"model":{json.dumps(model)}{mark},"choices":[{{"index":0,"delta":'
        ).encode()

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        """One chunk with ``delta`` and a finish reason (or null)."""
        fin = json.dumps(finish)
        return self._pre + (f'{_encode(delta)},"finish_reason":{fin}}}]}}\n\n').encode()

    def text(self, piece: str) -> bytes:
        """A content chunk (the hot path: one per token)."""
        return (
            self._pre + b'{"content":' + _encode(piece).encode() + b'},"finish_reason":null}]}\n\n'
        )

    def usage(self, prompt: int, completion: int) -> bytes:
        """The final usage chunk (``stream_options.include_usage``)."""
        u = {"prompt_tokens": prompt, "completion_tokens": completion,
             "total_tokens": prompt + completion}  # fmt: skip
        head = self._pre.split(b',"choices":')[0]
        return head + b',"choices":[],"usage":' + json.dumps(u).encode() + b"}\n\n"


def error_event(message: str, code: str) -> bytes:
    """An SSE error event (what OpenAI clients raise as an API error)."""
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": code}}
    return b"data: " + json.dumps(body).encode() + b"\n\n"
