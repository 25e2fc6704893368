from __future__ import annotations

import asyncio
from typing import Any

from nova.config import Candidate
from nova.evals import LLMJudge, prompt_hash
from nova.providers import CandidateClient, create_provider
from tests.evals.test_graders import case


def judge(rules: list[dict[str, Any]], default: str = "no idea") -> LLMJudge:
    c = Candidate.model_validate(
        {
            "id": "j",
            "model": "mock/judge",
            "provider": {"cache": False, "options": {"responses": rules, "default": default}},
        }
    )
    return LLMJudge(CandidateClient(create_provider(c)))


def test_rubric_pass_fail_retry_and_unparseable() -> None:
    j = judge(
        [
            {
                "match": "Answer to grade:\\s*<<<\\s*Sehr gerne",
                "text": 'Sure: {"verdict": "pass", "score": 5, "reason": "polite"}',
            },
            {
                "match": "Answer to grade:\\s*<<<\\s*Nein",
                "text": '{"verdict": "fail", "score": 1, "reason": "rude"}',
            },
            {"match": "not valid JSON", "text": '{"verdict": "pass", "score": 4}'},
        ]
    )
    c = case([{"grader": "judge", "rubric": "polite"}])
    ok = asyncio.run(j.rubric(c, "polite", "Sehr gerne helfe ich."))
    bad = asyncio.run(j.rubric(c, "polite", "Nein."))
    retried = asyncio.run(j.rubric(c, "polite", "Hm"))  # garbage first, valid after re-ask
    assert (ok.passed, ok.score, bad.passed, retried.passed) == (True, 5.0, False, True)
    assert prompt_hash() in ok.detail
    never = judge([])
    g = asyncio.run(never.rubric(c, "polite", "Hm"))
    assert g.passed is None and "not parseable after a retry" in g.detail


def test_pairwise_both_orders_and_position_bias() -> None:
    fair = judge(
        [
            {"match": "Answer A:\\s*<<<\\s*GOOD", "text": '{"winner": "A"}'},
            {"match": "Answer B:\\s*<<<\\s*GOOD", "text": '{"winner": "B"}'},
        ]
    )
    c = case([{"grader": "contains", "value": "x"}])
    v = asyncio.run(fair.pairwise(c, "GOOD answer", "weak answer"))
    assert (v.outcome, v.consistent) == (1.0, True)
    v = asyncio.run(fair.pairwise(c, "weak answer", "GOOD answer"))
    assert (v.outcome, v.consistent) == (0.0, True)
    biased = judge([], default='{"winner": "A", "reason": "first is best"}')
    v = asyncio.run(biased.pairwise(c, "GOOD answer", "weak answer"))
    assert (v.outcome, v.consistent) == (0.5, False)  # orders disagree: a tie, flagged
