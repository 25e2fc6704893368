"""The provider base class and the registry every provider (built-in or plugin) goes through."""

from __future__ import annotations

import abc
import importlib
from collections.abc import AsyncIterator, Callable
from importlib import metadata
from pathlib import Path
from typing import ClassVar, TypeVar

from nova.config import Candidate
from nova.errors import ConfigError, Problem
from nova.providers._types import ChatDelta, ChatRequest, ChatResponse, ModelInfo, Usage

__all__ = ["Provider", "create_provider", "provider_names", "register_provider"]

_REGISTRY: dict[str, type[Provider]] = {}
_BUILTINS_LOADED = False
ENTRY_POINT_GROUP = "nova.plugins"
_BUILTINS = [f"nova.providers._{m}" for m in ("openai", "azure", "bedrock", "llamacpp", "mock")]

P = TypeVar("P", bound="type[Provider]")


class Provider(abc.ABC):
    """One candidate's endpoint. Subclasses implement one attempt of a chat request; retries,
    limits and caching live in ``CandidateClient``, the same for every provider.

    Lifecycle: ``await start()`` (open sessions, start a local server), many ``chat`` calls,
    ``await close()``.
    """

    name: ClassVar[str] = ""
    """Registry name: the part before the slash in ``provider/model``."""

    def __init__(self, candidate: Candidate, *, workspace_root: Path | None = None) -> None:
        self.candidate = candidate
        self.workspace_root = workspace_root

    @property
    def model(self) -> str:
        """Model name as the provider knows it (after ``provider/``)."""
        return self.candidate.provider_model

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare for requests (open an HTTP session, start a local server)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release everything ``start`` acquired."""

    @abc.abstractmethod
    async def chat(self, request: ChatRequest) -> ChatResponse:
        """Send one request, once (no retries); raise a ``ProviderError`` on failure."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """The answer piece by piece, once (no retries); raise a ``ProviderError`` on failure.

        This default asks ``chat`` for the whole answer and yields it as one piece, so every
        provider can stream; providers with a streaming API override it.
        """
        resp = await self.chat(request)
        calls = [
            {"index": i, "id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(resp.tool_calls)
        ]  # fmt: skip
        yield ChatDelta(text=resp.text, tool_calls=calls or None, model=resp.model_reported)
        usage = resp.usage if resp.usage.source != "none" else Usage()
        yield ChatDelta(finish_reason=resp.finish_reason or "stop", usage=usage)

    async def model_info(self) -> ModelInfo | None:
        """What the server says about its model, if it can tell."""
        return None

    async def __aenter__(self) -> Provider:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def register_provider(name: str) -> Callable[[P], P]:
    """Class decorator: make a provider available as ``name/…`` in nova.yaml.

    Plugins call it from a module named in the ``nova.plugins`` entry-point group.
    """

    def deco(cls: P) -> P:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    # Built-ins register themselves exactly as a plugin would: by being imported.
    for mod in _BUILTINS:
        importlib.import_module(mod)

    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def provider_names() -> list[str]:
    """Registered provider names."""
    _load()
    return sorted(_REGISTRY)


def create_provider(candidate: Candidate, *, workspace_root: Path | None = None) -> Provider:
    """The provider for a candidate's ``provider/model``."""
    _load()
    kind = candidate.provider_kind
    cls = _REGISTRY.get(kind)
    if cls is None:
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    f"candidate {candidate.id}.model",
                    f"unknown provider {kind!r}; known: "
                    f"{', '.join(sorted(_REGISTRY))} (a plugin may add more)",
                )
            ]
        )
    return cls(candidate, workspace_root=workspace_root)
