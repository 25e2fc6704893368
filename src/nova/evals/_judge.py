"""LLM judges: a rubric grade of one answer, and a pairwise comparison judged in both orders.

The prompts are versioned and hashed (every stored grade names the hash); the candidate's name
never reaches the judge; replies are JSON, re-asked once when unparseable, and an answer that
still cannot be parsed is recorded as undecided, not as a failure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nova.datasets import Case
from nova.evals._graders import Grade
from nova.providers import CandidateClient, ChatRequest, ChatResponse, Message, ProviderError

__all__ = [
    "PAIRWISE_PROMPT",
    "PROMPT_VERSION",
    "RUBRIC_PROMPT",
    "LLMJudge",
    "PairwiseVerdict",
    "prompt_hash",
]

PROMPT_VERSION = "nova-judge-v1"

RUBRIC_PROMPT = """\
You grade one answer of a customer-service assistant. Judge only the answer, against the rubric.

Conversation (the assistant answers the last user turn):
{conversation}

Answer to grade:
<<<
{answer}
>>>

Rubric: {rubric}

Reply with JSON only, no other text:
{{"verdict": "pass" or "fail", "score": 1 to 5, "reason": "one short sentence"}}"""

PAIRWISE_PROMPT = """\
You compare two answers of a customer-service assistant to the same conversation. Prefer the
answer that is more correct, safer, follows the rules of the service, and helps the customer
more. Ignore length and style unless they affect helpfulness. The labels A and B are arbitrary.

Conversation (the assistant answers the last user turn):
{conversation}

Answer A:
<<<
{a}
>>>

Answer B:
<<<
{b}
>>>

Reply with JSON only, no other text:
{{"winner": "A" or "B" or "tie", "reason": "one short sentence"}}"""

_RETRY = "Your reply was not valid JSON of the requested form. Reply with the JSON object only."


def prompt_hash() -> str:
    """sha256 (first 16 hex) over the version and both prompt templates."""
    h = hashlib.sha256((PROMPT_VERSION + RUBRIC_PROMPT + PAIRWISE_PROMPT).encode("utf-8"))
    return h.hexdigest()[:16]


class PairwiseVerdict(BaseModel):
    """Outcome of a pairwise comparison judged in both orders."""

    model_config = ConfigDict(extra="forbid")

    outcome: float | None
    """1 = the first answer wins, 0 = the second wins, 0.5 = tie (including when the two
    orders disagree); None when the judge could not be parsed."""
    consistent: bool | None
    """Whether both orders named the same winner (None when undecided)."""
    detail: str
    """The judge's reasons."""


def _conversation(case: Case) -> str:
    return "\n".join(f"{m.role.upper()}: {m.content}" for m in case.messages)


def _parse(text: str) -> dict[str, Any] | None:
    m = re.search(r"\{.*\}", text, re.S)
    if not m:
        return None
    try:
        data = json.loads(m.group(0))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


OnCall = Callable[[str, ChatRequest, ChatResponse | None, ProviderError | None], Awaitable[None]]


class LLMJudge:
    """A judge candidate behind a ``CandidateClient``; ``on_call`` stores each judge call."""

    def __init__(
        self, client: CandidateClient, *, on_call: OnCall | None = None, max_tokens: int = 200
    ) -> None:
        self.client = client
        self.on_call = on_call
        self.max_tokens = max_tokens
        self.hash = prompt_hash()

    async def _ask(
        self, label: str, prompt: str, check: Callable[[dict[str, Any]], bool]
    ) -> tuple[dict[str, Any] | None, str]:
        messages = [Message(role="user", content=prompt)]
        last = ""
        for attempt in range(2):
            req = ChatRequest(
                messages=messages,
                temperature=0,
                max_tokens=self.max_tokens,
                seed=0,
                stream=False,
                response_format={"type": "json_object"},
            )
            try:
                resp = await self.client.chat(req)
            except ProviderError as exc:
                if self.on_call:
                    await self.on_call(f"{label}#{attempt}", req, None, exc)
                return None, f"judge call failed: {exc}"
            if self.on_call:
                await self.on_call(f"{label}#{attempt}", req, resp, None)
            last = resp.text
            data = _parse(resp.text)
            if data is not None and check(data):
                return data, last
            messages = [
                *messages,
                Message(role="assistant", content=resp.text or "-"),
                Message(role="user", content=_RETRY),
            ]
        return None, f"judge reply not parseable after a retry: {last[:120]!r}"

    async def rubric(self, case: Case, rubric: str, answer: str, *, label: str = "") -> Grade:
        """Grade one answer against a rubric."""
        prompt = RUBRIC_PROMPT.format(
            conversation=_conversation(case), answer=answer, rubric=rubric
        )
        data, note = await self._ask(
            label or f"{case.id}#judge", prompt, lambda d: d.get("verdict") in ("pass", "fail")
        )
        if data is None:
            return Grade(grader="judge", passed=None, detail=note)
        score = data.get("score")
        return Grade(
            grader="judge",
            passed=data["verdict"] == "pass",
            score=float(score) if isinstance(score, int | float) else None,
            detail=f"{data.get('reason', '')} [prompt {self.hash}]",
        )

    async def pairwise(
        self, case: Case, first: str, second: str, *, label: str = ""
    ) -> PairwiseVerdict:
        """Compare two answers in both orders; disagreement between the orders is a tie."""
        ok: Callable[[dict[str, Any]], bool] = lambda d: d.get("winner") in ("A", "B", "tie")  # noqa: E731
        conv = _conversation(case)
        d1, n1 = await self._ask(
            f"{label}#ab", PAIRWISE_PROMPT.format(conversation=conv, a=first, b=second), ok
        )
        d2, n2 = await self._ask(
            f"{label}#ba", PAIRWISE_PROMPT.format(conversation=conv, a=second, b=first), ok
        )
        if d1 is None or d2 is None:
            return PairwiseVerdict(outcome=None, consistent=None, detail=n1 if d1 is None else n2)
        # Map both to "which of (first, second) won".
        w1: Literal["first", "second", "tie"] = {"A": "first", "B": "second"}.get(
            d1["winner"], "tie"
        )  # type: ignore[assignment]  # values are the literal's
        w2: Literal["first", "second", "tie"] = {"A": "second", "B": "first"}.get(
            d2["winner"], "tie"
        )  # type: ignore[assignment]
        reasons = f"AB: {d1.get('reason', '')} | BA: {d2.get('reason', '')}"
        if w1 != w2:
            return PairwiseVerdict(
                outcome=0.5, consistent=False, detail="orders disagree: " + reasons
            )
        outcome = {"first": 1.0, "second": 0.0, "tie": 0.5}[w1]
        return PairwiseVerdict(outcome=outcome, consistent=True, detail=reasons)
