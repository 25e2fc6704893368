"""From a stored quality run to the numbers people decide on, each with its interval.

Definitions (printed next to the tables as well):
- A case passes when no grader failed and at least one decided; undecided grades (judge reply
  unparseable, language not recognisable) are left out, and a case with only undecided grades
  is "undecided", not failed. A request that errored counts as a failed case (and is counted
  separately as an error).
- With repeats, each case contributes the mean of its repeats; the pass rate is the mean over
  cases with a Wilson 95% interval on (sum of case means, number of cases).
- Win rate vs the baseline is paired by case (repeat 0): with a judge, the pairwise verdict
  judged in both orders (disagreement = tie); without one, pass/fail per case (both pass or
  both fail = tie). Interval: bootstrap over cases; p: exact sign test without ties.
- Missed escalations: cases that required escalation and got none, over cases requiring one;
  unnecessary escalations: the reverse. Escalation cost = (missed × missed_cost +
  unnecessary × unnecessary_cost) per 100 cases.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict

from nova.catalog import Catalog
from nova.config import NovaConfig
from nova.evals._stats import (
    WinRate,
    bradley_terry_ranking,
    minimum_detectable_effect,
    paired_win_rate,
    run_to_run_sd,
    wilson_interval,
    worst_slice,
)
from nova.store import RunStore

__all__ = ["DEFINITIONS", "CandidateQuality", "EvalReport", "Rate", "build_report"]

DEFINITIONS = [
    line.strip("- ") for line in (__doc__ or "").split("Definitions")[1].split("\n- ")[1:]
]


class Rate(BaseModel):
    """A proportion with its Wilson 95% interval."""

    model_config = ConfigDict(extra="forbid")

    rate: float
    """Proportion."""
    low: float
    """Wilson 95% lower bound."""
    high: float
    """Wilson 95% upper bound."""
    n: int
    """Cases."""

    def fmt(self, pct: bool = True) -> str:
        """``82.0% [74.1–88.0] n=100``."""
        if pct:
            return f"{self.rate:.1%} [{self.low:.1%}–{self.high:.1%}] n={self.n}"
        return f"{self.rate:.3f} [{self.low:.3f}–{self.high:.3f}] n={self.n}"


def _rate(successes: float, n: int) -> Rate:
    lo, hi = wilson_interval(successes, n)
    return Rate(rate=successes / n if n else 0.0, low=lo, high=hi, n=n)


class CandidateQuality(BaseModel):
    """Quality numbers of one candidate in one run."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    model_reported: str | None
    """Most common model id reported by the server."""
    cases: int
    """Cases evaluated."""
    pass_rate: Rate
    """Pass rate over cases."""
    weighted_pass_rate: float
    """Pass rate with case weights."""
    by_category: dict[str, Rate]
    """Pass rate per category."""
    by_language: dict[str, Rate]
    """Pass rate per language."""
    worst_slice: str | None
    """Category/language slice with the lowest pass rate (at least 5 cases)."""
    errors: int
    """Requests that failed (timeouts, HTTP errors, not started)."""
    undecided: int
    """Cases with only undecided grades."""
    missed_escalation: Rate | None
    """Missed escalations over cases that required one."""
    unnecessary_escalation: Rate | None
    """Escalations over cases that must not escalate."""
    escalation_cost_per_100: float | None
    """Weighted escalation cost per 100 cases."""
    win_rate: WinRate | None
    """Paired win rate vs the baseline."""
    win_method: str | None
    """How wins were decided (judge or pass/fail)."""
    position_bias_rate: float | None
    """Share of pairwise verdicts where the two orders disagreed."""
    run_to_run_sd: float
    """SD of the pass rate between repeats (0 with one repeat)."""
    mde: float
    """Smallest pass-rate difference this dataset detects (alpha 0.05, power 0.8)."""
    prompt_tokens: int
    """Prompt tokens of all calls (incl. judge calls about this candidate)."""
    completion_tokens: int
    """Completion tokens of all calls."""
    cost_usd: float | None
    """Cost of the candidate's own calls (judging is reported in ``cost_note``); None when
    not priced per token."""
    cost_per_success_usd: float | None
    """Cost divided by passed cases."""
    cost_note: str
    """Which price sheet, or why there is no cost."""


class EvalReport(BaseModel):
    """Everything ``nova eval show`` prints."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    """Run id."""
    status: str
    """Run status."""
    meta: dict[str, Any]
    """Provenance stored with the run."""
    baseline: str | None
    """Baseline candidate."""
    candidates: list[CandidateQuality]
    """Per-candidate results."""
    bradley_terry: list[tuple[str, float]]
    """Bradley–Terry strengths from pairwise pass/fail comparisons, strongest first."""
    definitions: list[str]
    """How every number was computed."""


def _case_outcomes(
    store: RunStore, run_id: str
) -> tuple[
    dict[str, dict[str, list[float | None]]],
    dict[tuple[str, str], dict[str, Any]],
    dict[tuple[str, str], float],
]:
    """(candidate -> case -> [outcome per repeat]), escalation flags, pairwise verdicts."""
    by: dict[tuple[str, str, int], list[bool | None]] = defaultdict(list)
    esc: dict[tuple[str, str], dict[str, Any]] = {}
    pair: dict[tuple[str, str], float] = {}
    for g in store.iter_grades(run_id):
        if g.grader.startswith("pairwise:"):
            if g.score is not None:
                pair[(g.candidate, g.case_id)] = g.score
                esc.setdefault(("__pair__", f"{g.candidate}|{g.case_id}"), {})["consistent"] = (
                    g.passed
                )
            continue
        by[(g.candidate, g.case_id, g.repeat)].append(g.passed)
        if g.grader == "escalation" and g.repeat == 0:
            esc[(g.candidate, g.case_id)] = {"passed": g.passed}
    out: dict[str, dict[str, list[float | None]]] = defaultdict(lambda: defaultdict(list))
    for (cid, case_id, _rep), results in sorted(by.items()):
        if any(r is False for r in results):
            val: float | None = 0.0
        elif any(r is True for r in results):
            val = 1.0
        else:
            val = None
        out[cid][case_id].append(val)
    return out, esc, pair


def build_report(
    store: RunStore,
    run_id: str,
    cfg: NovaConfig,
    catalog: Catalog,
    *,
    missed_cost: float = 5.0,
    unnecessary_cost: float = 1.0,
) -> EvalReport:
    """Compute the report of a quality run from the store."""
    run = store.get_run(run_id)
    spec = run.meta.get("spec", {})
    baseline = spec.get("baseline")
    seed = int(spec.get("seed", 1234))
    outcomes, esc, pair = _case_outcomes(store, run.id)
    # category, language, weight, escalation: stored when the run started
    facts = {c.case_id: c.facts() for c in store.iter_run_cases(run.id)}
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    models: dict[str, Counter[str]] = defaultdict(Counter)
    errors: Counter[str] = Counter()
    judge = spec.get("judge")
    cost: dict[str, float] = defaultdict(float)
    judge_cost: dict[str, float] = defaultdict(float)
    priced: dict[str, str] = {}
    for r in store.iter_requests(run.id):
        subject = r.candidate
        if judge and r.candidate == judge and r.case_id and "@" in r.case_id:
            subject = r.case_id.split("@", 1)[1].split("#")[0].split(":vs:")[0]
        tokens[subject][0] += r.prompt_tokens or 0
        tokens[subject][1] += r.completion_tokens or 0
        if r.candidate != judge or subject == r.candidate:
            if r.model_reported:
                models[r.candidate][r.model_reported] += 1
            if r.error_type:
                errors[r.candidate] += 1
        price = _price(cfg, catalog, r.candidate)
        if price is not None:
            pin, pout, sheet = price
            usd = ((r.prompt_tokens or 0) * pin + (r.completion_tokens or 0) * pout) / 1e6
            if subject == r.candidate:
                cost[subject] += usd
                priced.setdefault(subject, sheet)
            else:  # judging this candidate's answers: reported apart, never as its price
                judge_cost[subject] += usd
    # Bradley–Terry over pass/fail comparisons between every pair of candidates.
    cands = [c for c in spec.get("candidates", []) if c in outcomes]
    mean_out = {c: {k: _mean(v) for k, v in outcomes[c].items()} for c in cands}
    bt_wins: dict[tuple[str, str], float] = defaultdict(float)
    for i, a in enumerate(cands):
        for b in cands[i + 1 :]:
            for case_id in mean_out[a].keys() & mean_out[b].keys():
                x, y = mean_out[a][case_id], mean_out[b][case_id]
                if x is None or y is None:
                    continue
                if x > y:
                    bt_wins[(a, b)] += 1
                elif y > x:
                    bt_wins[(b, a)] += 1
                else:
                    bt_wins[(a, b)] += 0.5
                    bt_wins[(b, a)] += 0.5
    try:
        bt = bradley_terry_ranking(bt_wins) if len(cands) > 1 and bt_wins else []
    except ValueError:  # candidates that never met on a decided case: no common scale
        bt = []
    results = []
    for cid in cands:
        per_case = mean_out[cid]
        decided = {k: v for k, v in per_case.items() if v is not None}
        n = len(decided)
        passed = sum(decided.values())
        slices: dict[str, list[float]] = defaultdict(list)
        by_cat: dict[str, list[float]] = defaultdict(list)
        by_lang: dict[str, list[float]] = defaultdict(list)
        weighted_num = weighted_den = 0.0
        for case_id, v in decided.items():
            f = facts.get(case_id, {})
            cat, lang, w = f.get("category", "?"), f.get("language", "?"), f.get("weight", 1.0)
            by_cat[cat].append(v)
            by_lang[lang].append(v)
            slices[f"{cat}/{lang}"].append(v)
            weighted_num += w * v
            weighted_den += w
        missed = unnecessary = need = no_need = 0
        for case_id in per_case:
            e = esc.get((cid, case_id))
            exp = facts.get(case_id, {}).get("escalation")
            if e is None or exp is None:
                continue
            if exp:
                need += 1
                missed += e["passed"] is False
            else:
                no_need += 1
                unnecessary += e["passed"] is False
        win: WinRate | None = None
        method = None
        bias = None
        if baseline and cid != baseline and baseline in mean_out:
            pairs = [v for (c, _k), v in pair.items() if c == cid]
            if pairs:
                method = "LLM judge, pairwise, both orders (disagreement = tie)"
                flags = [
                    d["consistent"]
                    for (k, key), d in esc.items()
                    if k == "__pair__" and key.startswith(f"{cid}|")
                ]
                bias = (sum(1 for f in flags if f is False) / len(flags)) if flags else None
                win = paired_win_rate(pairs, seed=seed)
            else:
                outs: list[float] = []
                for case_id, mv in per_case.items():
                    b = mean_out[baseline].get(case_id)
                    if mv is None or b is None:
                        continue
                    outs.append(1.0 if mv > b else 0.0 if mv < b else 0.5)
                if outs:
                    method = "pass/fail per case (both pass or both fail = tie)"
                    win = paired_win_rate(outs, seed=seed)
        # Run-to-run SD over cases that have every repeat decided (an interrupted run can
        # leave cases with fewer repeats; those are left out rather than crash the report).
        reps = [r for r in outcomes[cid].values() if all(x is not None for x in r)]
        full = max((len(r) for r in reps), default=0)
        sd = run_to_run_sd([[float(x) for x in r if x is not None] for r in reps if len(r) == full])
        p = passed / n if n else 0.0
        mde = minimum_detectable_effect(max(n, 1), min(max(p, 0.01), 0.99), run_to_run_sd=sd)
        c_usd = cost.get(cid) if cid in priced else None
        note = f"price sheet {priced[cid]}" if cid in priced else _cost_note(cfg, cid)
        if judge_cost.get(cid):
            note += f"; judging its answers cost {judge_cost[cid]:.4f} USD (not included)"
        results.append(
            CandidateQuality(
                candidate=cid,
                model_reported=models[cid].most_common(1)[0][0] if models[cid] else None,
                cases=len(per_case),
                pass_rate=_rate(passed, n),
                weighted_pass_rate=weighted_num / weighted_den if weighted_den else 0.0,
                by_category={k: _rate(sum(v), len(v)) for k, v in sorted(by_cat.items())},
                by_language={k: _rate(sum(v), len(v)) for k, v in sorted(by_lang.items())},
                worst_slice=worst_slice({k: (sum(v) / len(v), len(v)) for k, v in slices.items()}),
                errors=errors[cid],
                undecided=len(per_case) - n,
                missed_escalation=_rate(missed, need) if need else None,
                unnecessary_escalation=_rate(unnecessary, no_need) if no_need else None,
                escalation_cost_per_100=(
                    100 * (missed * missed_cost + unnecessary * unnecessary_cost) / (need + no_need)
                )
                if need + no_need
                else None,
                win_rate=win,
                win_method=method,
                position_bias_rate=bias,
                run_to_run_sd=sd,
                mde=mde,
                prompt_tokens=tokens[cid][0],
                completion_tokens=tokens[cid][1],
                cost_usd=c_usd,
                cost_per_success_usd=(c_usd / passed) if c_usd is not None and passed else None,
                cost_note=note,
            )
        )
    return EvalReport(
        run_id=run.id,
        status=run.status,
        # Per-case hashes and facts are the run's cases (older runs kept them in meta).
        meta={k: v for k, v in run.meta.items() if k not in ("case_sha256", "case_facts")},
        baseline=baseline,
        candidates=results,
        bradley_terry=bt,
        definitions=DEFINITIONS,
    )


def _mean(values: list[float | None] | float | None) -> float | None:
    if values is None or isinstance(values, float | int):
        return values
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _price(cfg: NovaConfig, catalog: Catalog, cid: str) -> tuple[float, float, str] | None:
    try:
        c = cfg.candidate(cid)
    except KeyError:
        return None
    if c.hosting != "managed" or not c.catalog:
        return None
    found = catalog.token_price(c.catalog, c.price_sheet)
    if found is None:
        return None
    s, m = found
    return m.input_per_mtok, m.output_per_mtok, f"{s.id} ({s.retrieved})"


def _cost_note(cfg: NovaConfig, cid: str) -> str:
    try:
        c = cfg.candidate(cid)
    except KeyError:
        return "unknown candidate"
    if c.hosting == "self-hosted":
        return "self-hosted: priced per GPU-hour; see the performance run"
    if c.hosting == "local":
        return "local model: no per-token price"
    if c.provider_kind == "mock":
        return "mock: no cost"
    return "no price sheet lists this model"
