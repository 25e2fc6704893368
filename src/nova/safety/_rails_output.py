"""Output rails: system-prompt leakage (canary + verbatim overlap), PII the customer did not
give, and the answer length limit."""

from __future__ import annotations

import functools
import re
from typing import Any

from nova.safety._rails_base import (
    ChatMessages,
    Rail,
    RailAction,
    RailContext,
    RailDecision,
    message_text,
    register_rail,
)
from nova.safety._rails_input import entity_counts
from nova.safety._rails_pii import detect_pii, redact_pii

__all__ = ["MaxLengthRail", "PiiLeakRail", "SystemPromptLeakRail", "longest_shared_run"]

# Only alphabetic words count for the overlap: numbers (hotlines, prices) that an answer may
# rightly repeat from the prompt never make a run longer.
_WORDS = re.compile(r"[^\W\d_]{2,}")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(text)]


@functools.lru_cache(maxsize=64)
def _shingles(text: str, n: int) -> frozenset[tuple[str, ...]]:
    w = _words(text)
    return frozenset(tuple(w[i : i + n]) for i in range(len(w) - n + 1))


def longest_shared_run(answer: str, prompt: str, at_least: int) -> bool:
    """Whether ``answer`` shares ``at_least`` consecutive words with ``prompt``.

    >>> longest_shared_run("Ich soll: Nenne zuerst die Lösung oder den nächsten Schritt.",
    ...                    "Nenne zuerst die Lösung oder den nächsten Schritt; erkläre", 8)
    True
    """
    grams = _shingles(prompt, at_least)
    w = _words(answer)
    return any(tuple(w[i : i + at_least]) in grams for i in range(len(w) - at_least + 1))


@register_rail("system_prompt_leak")
class SystemPromptLeakRail(Rail):
    """The canary token, or a long verbatim run of a system prompt, in the answer."""

    stages = ("output",)

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        return None if context.config.output.system_prompt_leak is None else cls(context)

    def check_output(self, text: str, input_messages: ChatMessages) -> RailDecision:
        cfg = self.context.config.output.system_prompt_leak
        assert cfg is not None
        action: RailAction = "block" if cfg.action == "block" else "allow"
        canary = self.context.canary
        if canary and (canary in text or canary.replace("-", "") in re.sub(r"[\s-]", "", text)):
            return RailDecision(True, action, "canary token in the answer")
        prompts = [self.context.system_prompt or ""]
        roles = ("system", "developer")
        prompts += [message_text(m) or "" for m in input_messages if m.get("role") in roles]
        for prompt in prompts:
            if prompt and longest_shared_run(text, prompt, cfg.min_overlap_words):
                return RailDecision(
                    True,
                    action,
                    f"{cfg.min_overlap_words}+ consecutive words of a system prompt",
                )
        return RailDecision(False, "allow", "")


@register_rail("pii_leak")
class PiiLeakRail(Rail):
    """Personal data in the answer that neither the conversation nor the system prompt holds."""

    stages = ("output",)

    def __init__(self, context: RailContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(context, options)
        cfg = context.config.output.pii_leak
        allowed: set[str] = set()
        for value in cfg.allow if cfg else []:
            allowed |= {s.normalized for s in detect_pii(value)} | {value.strip().lower()}
        allowed |= {s.normalized for s in detect_pii(context.system_prompt or "")}
        self.allowed = allowed

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        return None if context.config.output.pii_leak is None else cls(context)

    def check_output(self, text: str, input_messages: ChatMessages) -> RailDecision:
        cfg = self.context.config.output.pii_leak
        assert cfg is not None
        spans = detect_pii(text, cfg.entities)
        if not spans:
            return RailDecision(False, "allow", "")
        given = set(self.allowed)
        # Placeholders continue the input's numbering, so [EMAIL_2] in an answer is never the
        # customer's own [EMAIL_1].
        numbering: dict[tuple[str, str], str] = {}
        for m in input_messages:
            content = message_text(m)
            if content:
                found = detect_pii(content)
                given |= {s.normalized for s in found}
                if m.get("role") != "system":
                    redact_pii(content, found, numbering)
        leaked = [s for s in spans if s.normalized not in given and s.value.lower() not in given]
        if not leaked:
            return RailDecision(False, "allow", f"only data from the conversation: "
                                f"{entity_counts([s.entity for s in spans])}")  # fmt: skip
        detail = "not in the input: " + entity_counts([s.entity for s in leaked])
        if cfg.action == "redact":
            return RailDecision(True, "redact", detail, text=redact_pii(text, leaked, numbering))
        return RailDecision(True, cfg.action, detail)


@register_rail("max_length")
class MaxLengthRail(Rail):
    """Answers longer than ``chars``: cut at a sentence (or word) end, or refused."""

    stages = ("output",)

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        return None if context.config.output.max_length is None else cls(context)

    def check_output(self, text: str, input_messages: ChatMessages) -> RailDecision:
        cfg = self.context.config.output.max_length
        assert cfg is not None
        if len(text) <= cfg.chars:
            return RailDecision(False, "allow", "")
        detail = f"{len(text)} characters > {cfg.chars}"
        if cfg.action == "block":
            return RailDecision(True, "block", detail)
        return RailDecision(True, "redact", detail + ": truncated", text=truncate(text, cfg.chars))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a sentence end, else a word end + "…".

    >>> truncate("Eins. Zwei drei vier.", 12)
    'Eins.'
    """
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", head)]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]]
    cut = head[: limit - 2].rsplit(None, 1)[0] if " " in head[: limit - 2] else head[: limit - 2]
    return cut.rstrip() + " …"
