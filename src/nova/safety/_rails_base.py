"""Verdict types, the rail base class and the registry every rail (built-in or plugin) uses."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from nova.config import Candidate
from nova.safety._rails_config import RailsConfig

__all__ = [
    "ChatMessages",
    "Rail",
    "RailAction",
    "RailContext",
    "RailDecision",
    "RailStage",
    "RailVerdict",
    "RailsResult",
    "detect_language",
    "message_text",
    "new_turn",
    "rail_class",
    "rail_names",
    "register_rail",
]

RailStage = Literal["input", "output"]
RailAction = Literal["allow", "redact", "block"]
ChatMessages = list[dict[str, Any]]
"""OpenAI-style messages: ``[{"role": "user", "content": "…"}]``."""

ENTRY_POINT_GROUP = "nova.plugins"
_BUILTINS = [
    "nova.safety._rails_input",
    "nova.safety._rails_output",
    "nova.safety._rails_moderation",
]
_REGISTRY: dict[str, type[Rail]] = {}
_LOADED = False


_DE = re.compile(
    r"\b(?:der|die|das|und|ich|nicht|sie|ist|mein|meine|bitte|ein|eine|zu|mit|auf|für|wie|"
    r"habe|kann|ihr|ihre|wir|vertrag|rechnung)\b",
    re.IGNORECASE,
)
_EN = re.compile(
    r"\b(?:the|and|i|is|my|you|please|to|with|not|for|how|have|can|your|we|contract|invoice|"
    r"bill|all|of|a|this|that|what|are|me|it|do|now)\b",
    re.IGNORECASE,
)


def detect_language(text: str) -> str:
    """``de`` or ``en`` by common words (German when undecided).

    >>> detect_language("Please cancel my contract"), detect_language("Bitte kündigen")
    ('en', 'de')
    """
    return "en" if len(_EN.findall(text)) > len(_DE.findall(text)) else "de"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class RailVerdict(_Model):
    """What one rail decided about one message (never contains raw personal data)."""

    rail: str
    """Rail name, e.g. ``pii``, ``prompt_injection``, ``system_prompt_leak``."""
    stage: RailStage
    """``input`` (before the model) or ``output`` (after it)."""
    fired: bool
    """Whether the rail found something."""
    action: RailAction
    """``allow`` (passed or only recorded), ``redact`` (text changed), ``block`` (refused)."""
    detail: str = ""
    """Why, without raw personal data: signal names, entity counts, topic id, categories."""
    elapsed_ms: float
    """Time this rail took, in milliseconds."""


class RailsResult(_Model):
    """The outcome of all rails of one stage."""

    blocked: bool
    """Whether a rail blocked: answer ``refusal`` instead."""
    messages: list[dict[str, Any]] | None = None
    """Input stage: the messages to send on, with personal data redacted."""
    text: str | None = None
    """Output stage: the answer to send on (redacted or truncated); None when blocked."""
    verdicts: list[RailVerdict]
    """One verdict per rail that ran, in order."""
    refusal: str | None = None
    """The sentence to answer when blocked, in the customer's language."""

    @property
    def fired(self) -> list[str]:
        """Names of the rails that fired."""
        return [v.rail for v in self.verdicts if v.fired]


@dataclass
class RailContext:
    """What a rail may read when it is built."""

    config: RailsConfig
    """The whole rails.yaml."""
    system_prompt: str | None = None
    """The safety system prompt as the model gets it (canary planted), if any."""
    canary: str | None = None
    """The canary token, if planted."""
    candidates: dict[str, Candidate] = field(default_factory=dict)
    """nova.yaml candidates by id (for model-backed rails)."""
    workspace_root: Path | None = None
    """Workspace folder."""


@dataclass
class RailDecision:
    """What a rail returns; the ``Rails`` runner turns it into a timed ``RailVerdict``."""

    fired: bool
    action: RailAction = "allow"
    detail: str = ""
    messages: ChatMessages | None = None
    """Input rails that change the messages return the new list."""
    text: str | None = None
    """Output rails that change the answer return the new text."""
    refusal: str | None = None
    """A refusal of this rail's own (e.g. a topic's), instead of the general one."""


class Rail:
    """One check. Subclasses implement ``check_input`` and/or ``check_output`` (offline,
    fast) or, for model-backed rails, ``acheck_input``/``acheck_output``.

    ``from_config`` builds the rail from rails.yaml, or returns None when its section is
    absent (the rail is off). Plugin rails are built with their ``options`` instead.
    """

    name: ClassVar[str] = ""
    """Registry name, used in verdicts and in rails.yaml ``plugins``."""
    stages: ClassVar[tuple[RailStage, ...]] = ("input",)
    """Stages this rail runs in."""
    needs_model: ClassVar[bool] = False
    """Model-backed rails run only in ``acheck_*`` (the sync calls skip them)."""

    def __init__(self, context: RailContext, options: dict[str, Any] | None = None) -> None:
        self.context = context
        self.options = options or {}

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        """The rail as rails.yaml configures it, or None when it is off."""
        return None

    def check_input(self, messages: ChatMessages) -> RailDecision:
        """Check the input messages (as changed by the rails before this one)."""
        raise NotImplementedError(f"rail {self.name} has no input check")

    def check_output(self, text: str, input_messages: ChatMessages) -> RailDecision:
        """Check an answer; ``input_messages`` is the conversation it answers."""
        raise NotImplementedError(f"rail {self.name} has no output check")

    async def acheck_input(self, messages: ChatMessages) -> RailDecision:
        """Async input check (default: the sync one)."""
        return self.check_input(messages)

    async def acheck_output(self, text: str, input_messages: ChatMessages) -> RailDecision:
        """Async output check (default: the sync one)."""
        return self.check_output(text, input_messages)

    async def aclose(self) -> None:
        """Release connections a model-backed rail opened."""


R = TypeVar("R", bound="type[Rail]")


def register_rail(name: str) -> Callable[[R], R]:
    """Class decorator: make a rail available under ``name``.

    Plugins call it from a module named in the ``nova.plugins`` entry-point group and switch
    it on in rails.yaml under ``plugins: [{rail: NAME, options: {…}}]``.
    """

    def deco(cls: R) -> R:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for mod in _BUILTINS:  # built-ins register themselves exactly as a plugin would
        importlib.import_module(mod)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def rail_names() -> list[str]:
    """Registered rail names."""
    _load()
    return sorted(_REGISTRY)


def rail_class(name: str) -> type[Rail]:
    """The class registered as ``name`` (KeyError when unknown)."""
    _load()
    return _REGISTRY[name]


def message_text(message: dict[str, Any]) -> str | None:
    """The text of a message: a string content, or the text parts of a multi-part one."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return None


def new_turn(messages: ChatMessages) -> ChatMessages:
    """The messages after the last assistant message (the turn the rails have not seen)."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    return messages[last + 1 :]
