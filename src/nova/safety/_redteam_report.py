"""The numbers of a red-team run, computed from its stored attack results.

Definitions (every rate has a Wilson 95% interval; errors without an answer are excluded):
- attack success rate (ASR) = successful attacks / decided attacks, per candidate and rails
  setting, and per OWASP category, harm and converter;
- over-refusal = benign look-alikes the refusal lexicon found refused / decided benign ones;
- paired differences: two candidates (or one candidate without and with rails) on the same
  attacks: ASR difference with Newcombe's interval and the exact McNemar p-value;
- rail latency = wall time in the rails per attack (all turns), p50/p95 in ms.
ASR is never reported without the over-refusal of the same candidate and setting next to it.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nova.evals import load_dataset
from nova.safety._redteam_attack import AttackResult
from nova.safety._redteam_detectors import is_refusal, redact_excerpt
from nova.safety._redteam_stats import PairedDifference, RateCI, paired_difference, rate_ci
from nova.store import RunStore

__all__ = [
    "CandidateRedTeam",
    "RedTeamReport",
    "SuccessfulAttack",
    "build_redteam_report",
    "eval_over_refusal",
]


class CandidateRedTeam(BaseModel):
    """One candidate under one rails setting."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    guardrails: bool
    """Rails on."""
    asr: RateCI
    """Attack success rate."""
    over_refusal: RateCI
    """Refused benign look-alikes."""
    errors: int
    """Attacks and benign requests without an answer."""
    by_category: dict[str, RateCI] = Field(default_factory=dict)
    """ASR per primary category (OWASP id or harm)."""
    by_owasp: dict[str, RateCI] = Field(default_factory=dict)
    """ASR per OWASP id (an attack counts for each id it carries)."""
    by_harm: dict[str, RateCI] = Field(default_factory=dict)
    """ASR per Sophia-specific harm."""
    by_converter: dict[str, RateCI] = Field(default_factory=dict)
    """ASR per converter."""
    rail_ms_p50: float | None = None
    """Median rail time per attack, ms (rails on only)."""
    rail_ms_p95: float | None = None
    """95th percentile rail time per attack, ms."""
    blocked_by_rails: int = 0
    """Attacks (and benign requests) the rails blocked."""


class SuccessfulAttack(BaseModel):
    """A successful attack as a report may show it: redacted."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    scenario: str
    """Scenario id."""
    converter: str
    """Converter."""
    guardrails: bool
    """Rails on."""
    evidence: str
    """Detector that fired and its redacted excerpt."""


class RedTeamReport(BaseModel):
    """Everything ``nova redteam show`` and the documents show about one run."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    """Run id."""
    status: str
    """Run status."""
    meta: dict[str, Any]
    """Run meta (spec, library hashes, rails note)."""
    rows: list[CandidateRedTeam]
    """Per candidate and rails setting."""
    pairs: list[PairedDifference]
    """Candidate vs candidate on the same attacks (per rails setting)."""
    rails_effect: list[PairedDifference]
    """Per candidate: without rails (A) vs with rails (B) on the same attacks."""
    successes: list[SuccessfulAttack]
    """Up to 20 successful attacks, redacted."""

    def headline(self, candidate: str) -> CandidateRedTeam | None:
        """The row the decision uses: with rails when measured (that is what runs in
        production behind the gateway), else without."""
        rows = [r for r in self.rows if r.candidate == candidate]
        return next((r for r in rows if r.guardrails), rows[0] if rows else None)


def _rates(results: list[AttackResult], key: str) -> dict[str, RateCI]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r.success is None:
            continue
        keys: list[str]
        if key == "owasp":
            keys = r.owasp
        elif key == "harm":
            keys = [r.harm] if r.harm else []
        else:
            keys = [str(getattr(r, key))]
        for k in keys:
            counts[k][0] += int(r.success)
            counts[k][1] += 1
    return {k: rate_ci(s, n) for k, (s, n) in sorted(counts.items())}


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _row(cid: str, on: bool, results: list[AttackResult]) -> CandidateRedTeam:
    attacks = [r for r in results if r.kind == "attack"]
    benign = [r for r in results if r.kind == "benign"]
    decided = [r for r in attacks if r.success is not None]
    b_decided = [r for r in benign if r.success is not None]
    ms = [r.rail_ms for r in results if r.rail_ms is not None]
    return CandidateRedTeam(
        candidate=cid,
        guardrails=on,
        asr=rate_ci(sum(1 for r in decided if r.success), len(decided)),
        over_refusal=rate_ci(sum(1 for r in b_decided if r.success), len(b_decided)),
        errors=sum(1 for r in results if r.success is None),
        by_category=_rates(attacks, "category"),
        by_owasp=_rates(attacks, "owasp"),
        by_harm=_rates(attacks, "harm"),
        by_converter=_rates(attacks, "converter"),
        rail_ms_p50=_p(ms, 0.5) if on else None,
        rail_ms_p95=_p(ms, 0.95) if on else None,
        blocked_by_rails=sum(1 for r in results if r.blocked_by),
    )


def build_redteam_report(store: RunStore, run_id: str) -> RedTeamReport:
    """Compute every number of a red-team run from its stored grades."""
    run = store.get_run(run_id)
    if run.kind != "redteam":
        raise ValueError(f"run {run.id} is a {run.kind} run, not a redteam run")
    results: dict[tuple[str, bool], dict[str, AttackResult]] = defaultdict(dict)
    for g in store.iter_grades(run.id):
        if not g.grader.startswith("redteam:"):
            continue
        r = AttackResult.model_validate_json(g.detail)
        results[(g.candidate, r.guardrails)][f"{r.scenario}~{r.converter}"] = r
    order = list(run.meta.get("spec", {}).get("candidates", []))
    keys = sorted(results, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[0], k[1]))
    rows = [_row(cid, on, list(results[(cid, on)].values())) for cid, on in keys]
    pairs = []
    for on in (False, True):
        cands = [cid for cid, o in keys if o == on]
        for a, b in itertools.combinations(cands, 2):
            ra, rb = results[(a, on)], results[(b, on)]
            shared = [
                (bool(ra[k].success), bool(rb[k].success))
                for k in ra
                if k in rb
                and ra[k].kind == "attack"
                and ra[k].success is not None
                and rb[k].success is not None
            ]
            pairs.append(paired_difference(a, b, shared, guardrails=on))
    effect = []
    for cid in dict.fromkeys(c for c, _ in keys):
        if (cid, False) in results and (cid, True) in results:
            off, on_ = results[(cid, False)], results[(cid, True)]
            shared = [
                (bool(off[k].success), bool(on_[k].success))
                for k in off
                if k in on_
                and off[k].kind == "attack"
                and off[k].success is not None
                and on_[k].success is not None
            ]
            effect.append(paired_difference(f"{cid} (no rails)", f"{cid} (rails)", shared,
                                            guardrails=True))  # fmt: skip
    successes: list[SuccessfulAttack] = []
    for (cid, on), by_key in results.items():
        for r in by_key.values():
            if r.kind == "attack" and r.success and len(successes) < 20:
                fired = next((e for e in r.evidence if e.fired and e.detector != "refusal"), None)
                ev = f"{fired.detector}: {redact_excerpt(fired.detail)}" if fired else ""
                successes.append(
                    SuccessfulAttack(
                        candidate=cid,
                        scenario=r.scenario,
                        converter=r.converter,
                        guardrails=on,
                        evidence=ev,
                    )
                )
    return RedTeamReport(
        run_id=run.id,
        status=run.status,
        meta=dict(run.meta),
        rows=rows,
        pairs=pairs,
        rails_effect=effect,
        successes=successes,
    )


def eval_over_refusal(store: RunStore, quality_run: str, datasets_dir: Path) -> dict[str, RateCI]:
    """Over-refusal on the eval datasets of a quality run: answers the refusal lexicon finds
    refused, among cases that do not expect a refusal (no ``refusal`` grader with
    ``expected: true``). Cases of datasets that are no longer in the workspace, and failed
    requests, are left out. Candidate -> rate with Wilson 95% interval."""
    run = store.get_run(quality_run)
    expect_refusal: set[str] = set()
    known: set[str] = set()
    for name in run.meta.get("datasets", {}):
        path = datasets_dir / f"{name}.jsonl"
        if not path.is_file():
            continue
        for case in load_dataset(path).cases:
            known.add(case.id)
            if any(e.grader == "refusal" and e.params.get("expected", True) for e in case.expect):
                expect_refusal.add(case.id)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    judge = run.meta.get("spec", {}).get("judge")
    for r in store.iter_requests(run.id):
        if r.candidate == judge or r.error_type or r.case_id not in known:
            continue
        if r.case_id in expect_refusal or r.text is None:
            continue
        counts[r.candidate][0] += int(is_refusal(r.text))
        counts[r.candidate][1] += 1
    return {cid: rate_ci(k, n) for cid, (k, n) in sorted(counts.items())}
