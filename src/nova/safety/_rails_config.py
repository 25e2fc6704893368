"""``guardrails/rails.yaml``: pydantic models and loading with file:line errors (like nova.yaml).

A rail runs when its section is present; a missing section means that rail is off. The
``version`` field versions the schema; nova refuses versions it does not know.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nova.config import LoadedYaml, format_path, load_yaml, pydantic_problems
from nova.errors import ConfigError, Problem
from nova.safety._rails_pii import PII_ENTITIES, PiiEntity
from nova.safety._rails_topics import BUILTIN_TOPICS

__all__ = [
    "RAILS_FILE",
    "RAILS_SCHEMA_VERSION",
    "DenyTopic",
    "InputRailsConfig",
    "LoadedRails",
    "MaxLengthConfig",
    "ModerationConfig",
    "OutputRailsConfig",
    "PiiLeakConfig",
    "PiiRedactionConfig",
    "PluginRailConfig",
    "PromptInjectionConfig",
    "RailsConfig",
    "RefusalConfig",
    "SystemPromptConfig",
    "SystemPromptLeakConfig",
    "load_rails_config",
]

RAILS_FILE = "rails.yaml"
RAILS_SCHEMA_VERSION = 1
_ALL_ENTITIES: list[PiiEntity] = list(PII_ENTITIES)
_ROLES: list[Literal["user", "tool"]] = ["user", "tool"]
_STAGES: list[Literal["input", "output"]] = ["input", "output"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


class PiiRedactionConfig(_Model):
    """Input rail ``pii``: personal data in the customer's messages."""

    entities: list[PiiEntity] = Field(default_factory=lambda: list(_ALL_ENTITIES))
    """Entity types to find: EMAIL, PHONE, IBAN, CREDIT_CARD, TAX_ID, ADDRESS."""
    action: Literal["redact", "block", "allow"] = "redact"
    """``redact``: replace with typed placeholders such as ``[IBAN_1]``; ``block``: refuse the
    message; ``allow``: only record the verdict."""


class PromptInjectionConfig(_Model):
    """Input rail ``prompt_injection``: German/English injection heuristics."""

    action: Literal["block", "allow"] = "block"
    """``block`` refuses the message; ``allow`` only records the verdict."""
    threshold: float = Field(default=1.0, gt=0)
    """Score at which the rail fires (strong signals weigh 1.0, weak ones 0.6)."""
    roles: list[Literal["user", "tool"]] = Field(default_factory=lambda: _ROLES.copy())
    """Roles of the new turn whose messages are checked (tool results carry indirect
    injection)."""


class DenyTopic(_Model):
    """A topic of your own: phrases that make a request off limits."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    """Topic id, shown in verdicts, e.g. ``competitor_prices``."""
    phrases: list[str] = Field(min_length=1)
    """German and English phrases, matched case-insensitively at word boundaries; a trailing
    ``*`` lets the last word continue (``verklag*``)."""
    refusal: str | None = None
    """Answer when this topic is hit (default: the general refusal)."""


class InputRailsConfig(_Model):
    """Rails on the customer's messages, before the model sees them."""

    prompt_injection: PromptInjectionConfig | None = None
    """Prompt-injection heuristics (off when absent)."""
    deny_topics: list[str | DenyTopic] = Field(default_factory=list)
    """Refused topics: a built-in topic id, or your own topic with its phrases."""
    pii_redaction: PiiRedactionConfig | None = None
    """PII detection and redaction (off when absent)."""


class PiiLeakConfig(_Model):
    """Output rail ``pii_leak``: personal data in the answer that the input did not contain."""

    entities: list[PiiEntity] = Field(default_factory=lambda: list(_ALL_ENTITIES))
    """Entity types to find."""
    action: Literal["redact", "block", "allow"] = "redact"
    """``redact`` replaces the leaked values with placeholders; ``block`` refuses."""
    allow: list[str] = Field(default_factory=list)
    """Values that are never a leak (your hotline, your public e-mail address)."""


class SystemPromptLeakConfig(_Model):
    """Output rail ``system_prompt_leak``: canary token or long verbatim system-prompt text."""

    action: Literal["block", "allow"] = "block"
    """``block`` refuses the answer; ``allow`` only records the verdict."""
    min_overlap_words: int = Field(default=12, ge=4)
    """Consecutive words shared with a system prompt that count as a leak."""


class MaxLengthConfig(_Model):
    """Output rail ``max_length``."""

    chars: int = Field(ge=1)
    """Longest answer in characters."""
    action: Literal["truncate", "block"] = "truncate"
    """``truncate`` cuts at the last sentence or word end before the limit; ``block``
    refuses."""


class ModerationConfig(_Model):
    """Rail ``moderation``: a candidate of nova.yaml acting as a safety classifier (async)."""

    candidate: str
    """Candidate id in nova.yaml that serves the classifier."""
    format: Literal["llama_guard_3", "openai_moderation"] = "llama_guard_3"
    """``llama_guard_3``: chat completion answering ``safe`` / ``unsafe`` + categories;
    ``openai_moderation``: POST ``{base_url}/moderations``."""
    prompt: Literal["nova", "server"] = "nova"
    """Llama Guard only: ``nova`` sends the Llama Guard 3 task prompt rendered by nova as one
    user message; ``server`` sends the conversation and relies on the server's chat
    template."""
    stages: list[Literal["input", "output"]] = Field(default_factory=lambda: _STAGES.copy())
    """Where the classifier runs."""
    block_categories: list[str] | None = None
    """Categories that block (Llama Guard ``S1``…``S14``, OpenAI category names); default:
    all."""
    on_error: Literal["allow", "block"] = "block"
    """What a classifier error or unreadable answer means: fail closed (``block``) or open."""


class OutputRailsConfig(_Model):
    """Rails on the model's answer, before the customer sees it."""

    system_prompt_leak: SystemPromptLeakConfig | None = None
    """Canary and verbatim-overlap check (off when absent)."""
    pii_leak: PiiLeakConfig | None = None
    """Personal data the customer did not give (off when absent)."""
    max_length: MaxLengthConfig | None = None
    """Answer length limit (off when absent)."""


class SystemPromptConfig(_Model):
    """The safety system prompt the rails plant a canary token in."""

    file: str = "safety_system_prompt.md"
    """File under ``guardrails/``."""
    canary: bool = True
    """Plant a canary token (derived from the prompt's sha256) in the first line."""


class RefusalConfig(_Model):
    """The sentence answered when a rail blocks, by the customer's language."""

    de: str = (
        "Dabei kann ich Ihnen leider nicht helfen. Gern unterstütze ich Sie bei Fragen zu "
        "Ihrem Vertrag, Ihren Rechnungen oder Ihren Daten."
    )
    """German refusal."""
    en: str = (
        "I'm sorry, I can't help with that. I'm happy to help with questions about your "
        "contract, your invoices or your data."
    )
    """English refusal."""


class PluginRailConfig(_Model):
    """A rail registered by a plugin (``nova.safety.register_rail``)."""

    rail: str
    """Registered rail name."""
    options: dict[str, object] = Field(default_factory=dict)
    """Passed to the rail unchanged."""


class RailsConfig(_Model):
    """``guardrails/rails.yaml``."""

    version: Literal[1]
    """Schema version of this file (1)."""
    system_prompt: SystemPromptConfig | None = Field(default_factory=SystemPromptConfig)
    """Safety system prompt with the canary (null: none)."""
    input: InputRailsConfig = Field(default_factory=InputRailsConfig)
    """Input rails."""
    output: OutputRailsConfig = Field(default_factory=OutputRailsConfig)
    """Output rails."""
    moderation: ModerationConfig | None = None
    """Model-backed moderation (off when absent)."""
    refusal: RefusalConfig = Field(default_factory=RefusalConfig)
    """Refusal sentences."""
    plugins: list[PluginRailConfig] = Field(default_factory=list)
    """Extra rails from plugins, run after the built-in ones."""


@dataclass
class LoadedRails:
    """A valid rails.yaml with its location data."""

    config: RailsConfig
    source: LoadedYaml

    @property
    def file(self) -> Path:
        """The rails.yaml file."""
        return self.source.file


def load_rails_config(
    file: Path,
    *,
    env: Mapping[str, str] | None = None,
    candidate_ids: set[str] | None = None,
    rail_names: set[str] | None = None,
) -> LoadedRails:
    """Load rails.yaml; raise ConfigError (exit 2) listing every problem with file:line.

    ``candidate_ids`` (from nova.yaml) and ``rail_names`` (registered plugin rails), when
    given, are used to check references.
    """
    src = load_yaml(file, env=os.environ if env is None else env)
    problems = list(src.problems)
    if src.data is None and not problems:
        problems.append(
            Problem(file, 1, "", "file is empty: write at least `version: 1` (see `nova init`)")
        )
    if problems and src.data is None:
        raise ConfigError(problems, f"{file} is not valid")
    if not isinstance(src.data, dict):
        problems.append(Problem(file, 1, "", "top level must be a mapping of keys to values"))
        raise ConfigError(problems, f"{file} is not valid")
    if "version" in src.data and src.data["version"] != RAILS_SCHEMA_VERSION:
        problems.append(
            Problem(
                file,
                src.line_of(("version",)),
                "version",
                f"unsupported rails.yaml version {src.data['version']!r}: this nova reads "
                f"version {RAILS_SCHEMA_VERSION}",
            )
        )
        raise ConfigError(problems, f"{file} is not valid")
    config: RailsConfig | None = None
    try:
        config = RailsConfig.model_validate(src.data)
    except ValidationError as exc:
        problems.extend(_tidy_union_problems(pydantic_problems(exc, src, root=RailsConfig)))
    if config is not None:
        problems.extend(_cross_checks(config, src, candidate_ids, rail_names))
    problems.sort(key=lambda p: (p.line or 0, p.path))
    if problems or config is None:
        raise ConfigError(problems, f"{file} is not valid")
    return LoadedRails(config, src)


_UNION_BRANCH = re.compile(r"^(input\.deny_topics\[\d+\])\.(str|DenyTopic)(\..+)?$")


def _tidy_union_problems(problems: list[Problem]) -> list[Problem]:
    """``deny_topics`` items are text or a mapping: report the branch the user meant, with
    the union's branch names taken out of the field path."""
    out: list[Problem] = []
    by_item: dict[str, list[tuple[Problem, str, str | None]]] = {}
    for p in problems:
        m = _UNION_BRANCH.match(p.path)
        if m is None:
            out.append(p)
        else:
            by_item.setdefault(m.group(1), []).append((p, m.group(2), m.group(3)))
    for item, found in by_item.items():
        fields = [(p, rest) for p, branch, rest in found if branch == "DenyTopic" and rest]
        if fields:
            out += [Problem(p.file, p.line, item + str(rest), p.message) for p, rest in fields]
        else:
            p = found[0][0]
            out.append(
                Problem(p.file, p.line, item, "write a built-in topic id or {id: …, phrases: […]}")
            )
    return out


def _cross_checks(
    cfg: RailsConfig,
    src: LoadedYaml,
    candidate_ids: set[str] | None,
    rail_names: set[str] | None,
) -> list[Problem]:
    out: list[Problem] = []

    def add(path: tuple[str | int, ...], msg: str) -> None:
        out.append(Problem(src.file, src.line_of(path), format_path(path), msg))

    seen: set[str] = set()
    for i, topic in enumerate(cfg.input.deny_topics):
        tid = topic if isinstance(topic, str) else topic.id
        if isinstance(topic, str) and topic not in BUILTIN_TOPICS:
            hint = difflib.get_close_matches(topic, sorted(BUILTIN_TOPICS), n=1)
            add(
                ("input", "deny_topics", i),
                f"unknown built-in topic {topic!r}"
                + (f": did you mean {hint[0]!r}?" if hint else "")
                + f"; built-in: {', '.join(sorted(BUILTIN_TOPICS))} (or write "
                "{id: …, phrases: [...]})",
            )
        if tid in seen:
            add(("input", "deny_topics", i), f"duplicate topic {tid!r}")
        seen.add(tid)
    mod = cfg.moderation
    if mod is not None and candidate_ids is not None and mod.candidate not in candidate_ids:
        add(
            ("moderation", "candidate"),
            f"unknown candidate {mod.candidate!r}; nova.yaml has: "
            f"{', '.join(sorted(candidate_ids)) or 'none'}",
        )
    if cfg.system_prompt is not None:
        prompt = src.file.parent / cfg.system_prompt.file
        if not prompt.resolve().is_relative_to(src.file.parent.resolve()):
            add(
                ("system_prompt", "file"),
                "the safety system prompt must be a file inside guardrails/",
            )
        elif not prompt.is_file():
            add(
                ("system_prompt", "file"),
                f"{prompt} not found: create it (nova init writes one) or set system_prompt: null",
            )
    if rail_names is not None:
        for i, plugin in enumerate(cfg.plugins):
            if plugin.rail not in rail_names:
                add(
                    ("plugins", i, "rail"),
                    f"unknown rail {plugin.rail!r}; registered: {', '.join(sorted(rail_names))}",
                )
    return out
