"""The one interface every provider speaks: a chat request in, a timed chat response out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatDelta",
    "ChatRequest",
    "ChatResponse",
    "Message",
    "ModelInfo",
    "Timings",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "UsageSource",
]

UsageSource = Literal["server", "client", "estimate", "none"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ToolCall(_Model):
    """A function call the model asked for."""

    id: str = ""
    """Call id as the server gave it."""
    name: str
    """Function name, e.g. ``escalate_to_human``."""
    arguments: str = ""
    """Arguments as a JSON string, exactly as the model wrote them."""


class Message(_Model):
    """One chat message."""

    role: Literal["system", "user", "assistant", "tool"]
    """Who speaks."""
    content: str | None = None
    """Text (None for an assistant message that only calls tools)."""
    tool_calls: list[ToolCall] | None = None
    """Tool calls of an assistant message."""
    tool_call_id: str | None = None
    """For role ``tool``: which call this answers."""


class ToolSpec(_Model):
    """A function the model may call."""

    name: str
    """Function name."""
    description: str = ""
    """What it does, for the model."""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    """JSON Schema of the arguments."""


class ChatRequest(_Model):
    """A chat completion request, provider-neutral."""

    messages: list[Message]
    """Conversation so far."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Most output tokens."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    """Sampling temperature."""
    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling."""
    stop: list[str] | None = None
    """Stop sequences."""
    seed: int | None = None
    """Sampling seed, where the server supports it."""
    tools: list[ToolSpec] | None = None
    """Functions the model may call."""
    tool_choice: str | None = None
    """``auto``, ``none``, ``required`` or a function name."""
    response_format: dict[str, Any] | None = None
    """OpenAI ``response_format`` (``{"type": "json_object"}`` or a JSON schema)."""
    stream: bool = True
    """Stream the answer (needed for TTFT and inter-token latency)."""
    ignore_eos: bool = False
    """Ask the server to generate exactly ``max_tokens`` (vLLM/llama.cpp extension), for load
    tests with fixed output lengths."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Extra fields sent as they are (server-specific)."""
    case_id: str | None = None
    """Dataset case this request belongs to (never sent; scripted mocks may use it)."""

    def cache_key_data(self) -> dict[str, Any]:
        """The fields that decide the answer (not ``stream``, not ``case_id``)."""
        return self.model_dump(mode="json", exclude={"stream", "case_id"})


class Usage(_Model):
    """Token counts and where they came from."""

    prompt_tokens: int | None = None
    """Input tokens."""
    completion_tokens: int | None = None
    """Output tokens."""
    source: UsageSource = "none"
    """``server`` (the usage field), ``client`` (a tokenizer), ``estimate`` (chunks or
    characters), ``none``."""


class Timings(_Model):
    """``time.perf_counter_ns()`` stamps of one request (same clock for all)."""

    queued_ns: int = 0
    """Time spent waiting for a concurrency slot or rate limit before sending."""
    t_send_ns: int
    """Just before the request was written."""
    t_first_byte_ns: int | None = None
    """Response headers received."""
    t_first_token_ns: int | None = None
    """First chunk carrying non-empty content (or reasoning)."""
    t_last_token_ns: int | None = None
    """Last chunk carrying content."""
    t_end_ns: int | None = None
    """Response fully read."""
    chunk_times_ns: list[int] = Field(default_factory=list)
    """Arrival of every content-bearing chunk."""
    chunk_tokens: list[int] = Field(default_factory=list)
    """Tokens per content chunk where known (1 for most engines), else empty."""


class ChatResponse(_Model):
    """What came back, with timings and provenance."""

    text: str
    """Answer text (assembled from the stream)."""
    reasoning: str | None = None
    """Reasoning content, for servers that send it separately."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """Tool calls of the answer."""
    finish_reason: str | None = None
    """``stop``, ``length``, ``tool_calls``, ``content_filter`` …"""
    usage: Usage = Field(default_factory=Usage)
    """Token counts."""
    model_reported: str | None = None
    """Model id as the server reported it."""
    request_id: str | None = None
    """Server request id (``id`` field or ``x-request-id`` header)."""
    timings: Timings
    """Timing stamps."""
    cached: bool = False
    """Served from nova's response cache (timings are those of the original request)."""
    attempts: int = 1
    """Attempts made, including retries."""
    raw: dict[str, Any] | None = None
    """Response body (non-streaming) or the last chunk (streaming), for the run store."""


class ModelInfo(_Model):
    """What a server says about the model it serves."""

    id: str
    """Model id."""
    owned_by: str | None = None
    """Owner as reported."""
    context_window: int | None = None
    """Context window, where the server reports it."""


@dataclass(slots=True)
class ChatDelta:
    """One piece of a streamed answer, as ``Provider.stream`` yields it.

    A slotted dataclass, not a pydantic model: the gateway makes one per token on its hot path.
    """

    text: str = ""
    """Content text of this piece (may be empty)."""
    tool_calls: list[dict[str, Any]] | None = None
    """OpenAI-style tool-call deltas (``index``, ``id``, ``function.name/arguments``)."""
    finish_reason: str | None = None
    """Set on the piece that ends the answer."""
    usage: Usage | None = None
    """Token counts, usually on the last piece."""
    model: str | None = None
    """Model id as the server reported it."""
