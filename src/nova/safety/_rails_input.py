"""Input rails: prompt injection, deny topics, PII redaction (offline, regex and checksums)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nova.safety._rails_base import (
    ChatMessages,
    Rail,
    RailContext,
    RailDecision,
    detect_language,
    message_text,
    new_turn,
    register_rail,
)
from nova.safety._rails_config import DenyTopic
from nova.safety._rails_injection import injection_signals
from nova.safety._rails_pii import detect_pii, redact_pii
from nova.safety._rails_topics import BUILTIN_REFUSALS, BUILTIN_TOPICS, compile_phrases

__all__ = ["DenyTopicsRail", "PiiRedactionRail", "PromptInjectionRail", "entity_counts"]


def entity_counts(entities: list[str]) -> str:
    """``EMAIL×2, IBAN×1``: what was found, never the values."""
    return ", ".join(f"{e}×{n}" for e, n in sorted(Counter(entities).items()))


@register_rail("prompt_injection")
class PromptInjectionRail(Rail):
    """German/English injection heuristics on the new turn's user (and tool) messages."""

    stages = ("input",)

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        cfg = context.config.input.prompt_injection
        return None if cfg is None else cls(context)

    def check_input(self, messages: ChatMessages) -> RailDecision:
        cfg = self.context.config.input.prompt_injection
        assert cfg is not None
        best, names = 0.0, []
        for m in new_turn(messages):
            text = message_text(m)
            if m.get("role") in cfg.roles and text:
                score, found = injection_signals(text)
                if score > best:
                    best, names = score, found
        fired = best >= cfg.threshold
        detail = f"score {best:.1f}" + (f": {', '.join(names)}" if names else "")
        return RailDecision(fired, "block" if fired and cfg.action == "block" else "allow", detail)


@register_rail("deny_topics")
class DenyTopicsRail(Rail):
    """Refuses the topics listed in rails.yaml (phrases at word boundaries)."""

    stages = ("input",)

    def __init__(self, context: RailContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(context, options)
        self.topics = []
        for t in context.config.input.deny_topics:
            topic = t if isinstance(t, DenyTopic) else DenyTopic(id=t, phrases=[*BUILTIN_TOPICS[t]])
            self.topics.append((topic, compile_phrases(topic.phrases)))

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        return cls(context) if context.config.input.deny_topics else None

    def check_input(self, messages: ChatMessages) -> RailDecision:
        for m in new_turn(messages):
            text = message_text(m)
            if m.get("role") != "user" or not text:
                continue
            for topic, pattern in self.topics:
                if pattern.search(text):
                    own = BUILTIN_REFUSALS.get(topic.id, {}).get(detect_language(text))
                    refusal = topic.refusal or own
                    return RailDecision(True, "block", f"topic {topic.id}", refusal=refusal)
        return RailDecision(False, "allow", "")


@register_rail("pii")
class PiiRedactionRail(Rail):
    """Personal data in every non-system message: redacted with typed placeholders."""

    stages = ("input",)

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        return None if context.config.input.pii_redaction is None else cls(context)

    def check_input(self, messages: ChatMessages) -> RailDecision:
        cfg = self.context.config.input.pii_redaction
        assert cfg is not None
        numbering: dict[tuple[str, str], str] = {}
        found: list[str] = []
        out: ChatMessages = []
        redact = cfg.action != "allow"

        def scrub(text: str) -> str:
            spans = detect_pii(text, cfg.entities)
            found.extend(s.entity for s in spans)
            return redact_pii(text, spans, numbering) if spans and redact else text

        for m in messages:
            content = m.get("content")
            if m.get("role") == "system":
                out.append(m)
            elif isinstance(content, str):
                out.append({**m, "content": scrub(content)})
            elif isinstance(content, list):  # multi-part content: redact every text part
                parts = [
                    {**p, "text": scrub(p["text"])}
                    if isinstance(p, dict) and isinstance(p.get("text"), str)
                    else p
                    for p in content
                ]
                out.append({**m, "content": parts})
            else:
                out.append(m)
        if not found:
            return RailDecision(False, "allow", "")
        return RailDecision(
            True,
            cfg.action,
            entity_counts(found),
            # Blocked messages come back redacted too: callers may log a blocked request.
            messages=out if cfg.action != "allow" else None,
        )
