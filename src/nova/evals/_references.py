"""Do the deterministic graders tell a case's good reference answer from its bad one?

Every shipped case carries ``reference.good`` and ``reference.bad`` (see ``nova.datasets``).
``check_references`` grades both with every grader except the LLM judge: the good answer must
pass all of them and the bad one must fail at least one. A case whose graders cannot separate the
two is a grader that passes wrong answers (``"rate"`` found inside ``"beraten"``) or rejects
right ones, and ``nova datasets validate`` exits 3 on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nova.datasets import Case, Dataset
from nova.evals._graders import ESCALATION_MARKER, ESCALATION_TOOL, Grade, GradeContext, grade_case
from nova.providers import ChatResponse, Timings, ToolCall

__all__ = ["NOT_DETERMINISTIC", "ReferenceCheck", "check_references", "reference_response"]

NOT_DETERMINISTIC = frozenset({"judge"})
"""Graders that need a model and are not run on reference answers."""


@dataclass
class ReferenceCheck:
    """The verdict on one case's reference answers."""

    case_id: str
    """Case id."""
    problems: list[str] = field(default_factory=list)
    """Why the graders do not separate good from bad (empty: they do)."""
    missing: bool = False
    """The case has no reference answers."""

    @property
    def separated(self) -> bool:
        """The good answer passes every deterministic grader and the bad one fails one."""
        return not self.missing and not self.problems


def reference_response(text: str) -> ChatResponse:
    """A response with ``text``; ``[ESKALATION]`` in it becomes a call of the hand-over tool."""
    calls = []
    if ESCALATION_MARKER in text:
        text = text.replace(ESCALATION_MARKER, "").strip()
        calls = [ToolCall(id="ref", name=ESCALATION_TOOL, arguments='{"reason": "reference"}')]
    return ChatResponse(text=text, tool_calls=calls, timings=Timings(t_send_ns=0))


async def _grades(case: Case, text: str) -> list[Grade]:
    det = case.model_copy(
        update={"expect": [e for e in case.expect if e.grader not in NOT_DETERMINISTIC]}
    )
    return await grade_case(det, reference_response(text), GradeContext())


async def check_references(ds: Dataset | Iterable[Case]) -> list[ReferenceCheck]:
    """One check per case, in file order (a loaded dataset, or its cases streamed)."""
    out = []
    for case in ds.cases if isinstance(ds, Dataset) else ds:
        check = ReferenceCheck(case.id)
        out.append(check)
        if case.reference is None:
            check.missing = True
            continue
        if all(e.grader in NOT_DETERMINISTIC for e in case.expect):
            check.problems.append("only LLM-judged expectations: no deterministic grader to check")
            continue
        for g in await _grades(case, case.reference.good):
            if g.passed is not True:
                verdict = "undecided" if g.passed is None else "fails"
                check.problems.append(f"good answer {verdict} {g.grader}: {g.detail}")
        bad = await _grades(case, case.reference.bad)
        if not any(g.passed is False for g in bad):
            check.problems.append(
                "bad answer passes every deterministic grader ("
                + "; ".join(f"{g.grader}: {g.detail}" for g in bad)
                + ")"
            )
    return out
