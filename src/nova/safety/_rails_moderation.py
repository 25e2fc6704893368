"""Rail ``moderation``: a nova candidate acting as a safety classifier (async only).

Two formats:

- ``llama_guard_3``: a chat completion with Llama Guard 3's task prompt (rendered by nova, or
  by the server's chat template with ``prompt: server``); the answer is ``safe`` or
  ``unsafe`` followed by a line of categories such as ``S1,S10``.
- ``openai_moderation``: ``POST {base_url}/moderations`` with ``{"model", "input"}``; the
  answer's ``results[0].flagged`` and ``categories``.

The classifier sees the messages after the input rails ran, i.e. with personal data already
redacted. A classifier that fails or answers something unreadable counts as ``on_error``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from nova.errors import ProviderError
from nova.safety._rails_base import (
    ChatMessages,
    Rail,
    RailAction,
    RailContext,
    RailDecision,
    RailStage,
    message_text,
    register_rail,
)
from nova.safety._rails_config import ModerationConfig

__all__ = [
    "LLAMA_GUARD_3_CATEGORIES",
    "ModerationRail",
    "parse_llama_guard",
    "render_llama_guard_prompt",
]

LLAMA_GUARD_3_CATEGORIES: dict[str, str] = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex-Related Crimes",
    "S4": "Child Sexual Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Suicide & Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}
"""The hazard taxonomy of Llama Guard 3 (MLCommons), as its model card lists it."""


def render_llama_guard_prompt(conversation: list[tuple[str, str]], role: str) -> str:
    """Llama Guard 3's task prompt (the text between its chat-template headers).

    ``conversation`` is ``[("User", text), ("Agent", text), …]``; ``role`` is the role whose
    last message is assessed (``User`` for input, ``Agent`` for output).
    """
    cats = "\n".join(f"{k}: {v}." for k, v in LLAMA_GUARD_3_CATEGORIES.items())
    turns = "\n\n".join(f"{who}: {text}" for who, text in conversation)
    return (
        f"Task: Check if there is unsafe content in '{role}' messages in conversations "
        "according our safety policy with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{cats}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\n{turns}\n\n<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {role} message in the above "
        "conversation:\n - First line must read 'safe' or 'unsafe'.\n - If unsafe, a second "
        "line must include a comma-separated list of violated categories."
    )


def parse_llama_guard(answer: str) -> tuple[bool, list[str]]:
    """``(unsafe, categories)`` from a Llama Guard answer; ValueError when it is neither.

    >>> parse_llama_guard("safe"), parse_llama_guard("unsafe\\nS1,S10")
    ((False, []), (True, ['S1', 'S10']))
    """
    lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
    if not lines:
        raise ValueError("empty answer")
    first = lines[0].lower()
    word = re.match(r"[a-z]+", first)
    if word is None or word.group(0) not in ("safe", "unsafe"):
        raise ValueError("first line is neither 'safe' nor 'unsafe'")
    if word.group(0) == "safe":
        return False, []
    rest = " ".join([lines[0][word.end() :], *lines[1:2]])
    cats = [c.upper() for c in re.findall(r"\b[Ss]\d{1,2}\b", rest)]
    return True, list(dict.fromkeys(cats))


def _conversation(messages: ChatMessages) -> list[tuple[str, str]]:
    out = []
    for m in messages:
        text = message_text(m)
        if text and m.get("role") in ("user", "assistant", "tool"):
            out.append(("Agent" if m.get("role") == "assistant" else "User", text))
    return out


@register_rail("moderation")
class ModerationRail(Rail):
    """A classifier candidate judges the new message (input) or the answer (output)."""

    stages = ("input", "output")
    needs_model = True

    def __init__(self, context: RailContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(context, options)
        cfg = context.config.moderation
        assert cfg is not None
        self.cfg: ModerationConfig = cfg
        self.candidate = context.candidates[cfg.candidate]
        self._client: Any = None
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_config(cls, context: RailContext) -> Rail | None:
        return None if context.config.moderation is None else cls(context)

    async def acheck_input(self, messages: ChatMessages) -> RailDecision:
        return await self._judge(messages, "input")

    async def acheck_output(self, text: str, input_messages: ChatMessages) -> RailDecision:
        answer = {"role": "assistant", "content": text}
        return await self._judge([*input_messages, answer], "output")

    async def _judge(self, messages: ChatMessages, stage: RailStage) -> RailDecision:
        conv = _conversation(messages)
        if stage not in self.cfg.stages or not conv:
            return RailDecision(False, "allow", "not configured for this stage" if conv else "")
        try:
            if self.cfg.format == "llama_guard_3":
                unsafe, cats = await self._llama_guard(conv, messages, stage)
            else:
                unsafe, cats = await self._openai_moderation(conv[-1][1])
        except Exception as exc:  # any classifier failure is a verdict
            action: RailAction = "block" if self.cfg.on_error == "block" else "allow"
            return RailDecision(
                action == "block",
                action,
                f"classifier {self.cfg.candidate} failed ({type(exc).__name__}); "
                f"on_error: {self.cfg.on_error}",
            )
        if not unsafe:
            return RailDecision(False, "allow", "safe")
        wanted = self.cfg.block_categories
        blocking = cats if wanted is None else [c for c in cats if c in wanted]
        if wanted is not None and not blocking:
            return RailDecision(False, "allow", f"unsafe, not a blocked category: {','.join(cats)}")
        return RailDecision(True, "block", "unsafe: " + (",".join(blocking) or "no category"))

    async def _ensure(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # connections belong to one event loop
            self._client = self._session = None
            self._loop = loop
            self._lock = asyncio.Lock()
        async with self._lock:  # concurrent first requests open one connection pool
            await self._open()

    async def _open(self) -> None:
        if self.cfg.format == "llama_guard_3" and self._client is None:
            from nova.providers import CandidateClient, create_provider

            provider = create_provider(self.candidate, workspace_root=self.context.workspace_root)
            self._client = CandidateClient(provider, cache=None)
            await self._client.start()
        if self.cfg.format == "openai_moderation" and self._session is None:
            s = self.candidate.provider
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=s.timeout_s, sock_connect=s.connect_timeout_s)
            )

    async def _llama_guard(
        self, conv: list[tuple[str, str]], messages: ChatMessages, stage: RailStage
    ) -> tuple[bool, list[str]]:
        from nova.providers import ChatRequest, Message

        await self._ensure()
        if self.cfg.prompt == "nova":
            role = "Agent" if stage == "output" else "User"
            msgs = [Message(role="user", content=render_llama_guard_prompt(conv, role))]
        else:
            msgs = [
                Message(role="assistant" if who == "Agent" else "user", content=text)
                for who, text in conv
            ]
        req = ChatRequest(messages=msgs, max_tokens=20, temperature=0.0, stream=False)
        resp = await self._client.chat(req)
        return parse_llama_guard(resp.text)

    async def _openai_moderation(self, text: str) -> tuple[bool, list[str]]:
        await self._ensure()
        assert self._session is not None
        s = self.candidate.provider
        base = (s.base_url or "https://api.openai.com/v1").rstrip("/")
        headers = {"Content-Type": "application/json", **s.headers}
        if s.api_key is not None and s.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {s.api_key.get_secret_value()}"
        body = {"model": self.candidate.provider_model, "input": text}
        async with self._session.post(f"{base}/moderations", json=body, headers=headers) as resp:
            if resp.status != 200:
                raise ProviderError(
                    self.candidate.id,
                    f"moderation endpoint answered HTTP {resp.status}",
                    status=resp.status,
                )
            data = await resp.json()
        result = data["results"][0]
        cats = [k for k, v in (result.get("categories") or {}).items() if v is True]
        return bool(result["flagged"]), cats

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._session is not None:
            await self._session.close()
        self._client = self._session = self._loop = None
