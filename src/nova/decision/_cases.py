"""Per-case values of a quality run, so the matrix can resample the cases (paired bootstrap).

Each metric below is the mean of its per-case values, with the definitions of nova's quality
report (``nova.evals.build_report``); ``tests/decision/test_cases.py`` checks that the means
equal the report's numbers on a real run:

- ``pass_rate``: a repeat of a case passes (1) when no grader failed and one decided, fails
  (0) when a grader failed, is undecided otherwise; the case value is the mean over its decided
  repeats (no value when none decided). Pairwise verdicts are not graders of the answer.
- ``win_rate`` vs the baseline: the pairwise judge's outcome (1 win, 0.5 tie, 0 loss) where
  the run has one, else pass/fail per case (case values compared: higher 1, equal 0.5, lower
  0). The baseline ties with itself: 0.5 for every case it has a value on.
- ``missed_escalation_rate``: 1 when a case that requires escalation did not escalate, else 0
  (only such cases); ``unnecessary_escalation_rate``: the same for cases that must not.
"""

from __future__ import annotations

from collections import defaultdict

from nova.store import RunRecord, RunStore

__all__ = ["CaseTable", "quality_case_values"]

CaseTable = dict[str, dict[str, dict[str, float]]]
"""Candidate -> metric key -> case id -> value."""


_PerCase = dict[str, dict[str, float]]  # candidate -> case id -> value


def _outcomes(store: RunStore, run_id: str) -> tuple[_PerCase, _PerCase, _PerCase]:
    """Per candidate and case: mean pass outcome, pairwise outcome, escalation failed (1/0)."""
    repeats: dict[tuple[str, str, int], list[bool | None]] = defaultdict(list)
    pairwise: _PerCase = defaultdict(dict)
    esc_failed: _PerCase = defaultdict(dict)
    for g in store.iter_grades(run_id):
        if g.grader.startswith("pairwise:"):
            if g.score is not None:
                pairwise[g.candidate][g.case_id] = g.score
            continue
        repeats[(g.candidate, g.case_id, g.repeat)].append(g.passed)
        if g.grader == "escalation" and g.repeat == 0:
            esc_failed[g.candidate][g.case_id] = 1.0 if g.passed is False else 0.0
    decided: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (cand, case, _rep), results in sorted(repeats.items()):
        if any(r is False for r in results):
            decided[(cand, case)].append(0.0)
        elif any(r is True for r in results):
            decided[(cand, case)].append(1.0)
    passed: _PerCase = defaultdict(dict)
    for (cand, case), vals in decided.items():
        passed[cand][case] = sum(vals) / len(vals)
    return passed, pairwise, esc_failed


def quality_case_values(store: RunStore, run: RunRecord) -> CaseTable:
    """Per-case values of ``pass_rate``, ``win_rate`` and the escalation rates of a run."""
    spec = run.meta.get("spec", {})
    baseline = spec.get("baseline")
    facts = {c.case_id: c.facts() for c in store.iter_run_cases(run.id)}
    passed_by, pairwise, esc_failed = _outcomes(store, run.id)
    base = passed_by.get(baseline, {}) if baseline else {}
    out: CaseTable = {}
    for cand in sorted(passed_by.keys() | esc_failed.keys()):
        passed = passed_by.get(cand, {})
        vals: dict[str, dict[str, float]] = {"pass_rate": dict(passed)}
        if baseline and cand == baseline:
            vals["win_rate"] = dict.fromkeys(passed, 0.5)
        elif baseline and pairwise.get(cand):
            vals["win_rate"] = dict(pairwise[cand])
        elif baseline and base:
            vals["win_rate"] = {
                k: 1.0 if v > base[k] else 0.0 if v < base[k] else 0.5
                for k, v in passed.items()
                if k in base
            }
        failed = esc_failed.get(cand, {})
        for key, want in (("missed_escalation_rate", True), ("unnecessary_escalation_rate", False)):
            got = {k: v for k, v in failed.items() if facts.get(k, {}).get("escalation") is want}
            if got:
                vals[key] = got
        out[cand] = {k: v for k, v in vals.items() if v}
    return out
