"""Multi-criteria decision math of the selection matrix: pure functions over plain data.

Pure Python (``math``, ``random``), no I/O; every random draw comes from
``random.Random(seed)``, so the same inputs and seed give the same numbers on every machine.
Invalid arguments raise ``ValueError``: they are programming errors, not user input.

Definitions shared by every function below:

* **Values.** ``values[alternative][criterion id]`` is a number (bools as 1.0/0.0). ``None``,
  NaN or an absent key means *not measured*.
* **Dropped criterion.** A criterion that no alternative has a value for is dropped; its weight
  is redistributed proportionally (the remaining weights are renormalised) and its id is
  listed in ``Ranking.dropped``. If no kept criterion has a positive weight: ``ValueError``.
* **Weights.** ``w_j = weight_j / Σ weight`` over the kept criteria, so they sum to 1.
* **Missing cell.** An alternative without a value on a kept criterion gets the worst
  normalised score on it, and is listed in ``Ranking.missing``: 0 in the weighted sum; in
  TOPSIS the column's worst measured normalised value, i.e. the anti-ideal (so in a column
  where all measured values are equal TOPSIS cannot penalise it: that column has no spread).
* **Order.** Best first: score descending, scores compared rounded to 12 decimals, ties broken
  by alternative name (ascending). *Winner* = first of that order.
* **Cannot win.** ``min_weight_change_to_flip`` (and ``sensitivity``) take ``cannot_win``:
  alternatives (e.g. those failing a hard gate) that stay in the matrix, and so in every
  normalisation, exactly as in ``rank``, but are never the winner: the winner is the first
  alternative of the order that is not in ``cannot_win``. Ranking, sensitivity and flips thus
  see one matrix and name the same winner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CriterionSpec",
    "Flip",
    "GateResult",
    "GateSpec",
    "ParetoFront",
    "Ranking",
    "apply_gates",
    "evaluate_gates",
    "min_weight_change_to_flip",
    "pareto_front",
    "rank",
    "topsis",
    "weighted_sum",
]

Direction = Literal["higher", "lower"]
Method = Literal["weighted-sum", "topsis"]
GateOp = Literal["==", "!=", ">=", "<=", ">", "<"]
Values = Mapping[str, Mapping[str, float | None]]
GateValue = float | bool | str
Bound = Literal["point", "lower", "upper"]
Intervals = Mapping[str, Mapping[str, tuple[float | None, float | None]]]
"""Alternative -> gate key -> (low, high) of the value's 95% interval."""

_DIGITS = 12  # scores equal to 12 decimals tie; sub-1e-12 differences are float noise
_GRID = 1000  # TOPSIS flip search: steps of 0.001 in the weight, then bisection


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class _CriterionLike(Protocol):  # nova.config.Criterion, without importing config here
    id: str
    weight: float
    direction: Direction


class _GateLike(Protocol):  # nova.config.Gate
    id: str
    source: str
    op: GateOp
    value: GateValue
    reason: str


class CriterionSpec(_Frozen):
    """One weighted criterion of the matrix."""

    id: str
    """Criterion id (the key in the value matrix)."""
    weight: float = Field(ge=0)
    """Relative weight (>= 0); normalised to sum to 1 over the kept criteria."""
    direction: Direction
    """Whether higher or lower values are better."""

    @classmethod
    def from_config(cls, criterion: _CriterionLike) -> CriterionSpec:
        """From a ``nova.config.Criterion`` (or anything with ``id``, ``weight``, ``direction``)."""
        return cls(id=criterion.id, weight=criterion.weight, direction=criterion.direction)


class GateSpec(_Frozen):
    """A hard requirement: ``actual <op> value``."""

    id: str
    """Gate id."""
    op: GateOp
    """Comparison."""
    value: GateValue
    """Value to compare against."""
    reason: str = ""
    """Why the gate exists, shown when it fails."""
    key: str | None = None
    """Key of the actual value in ``values_by_alt``; default the gate id."""
    bound: Bound = "point"
    """Which value is tested: the measured ``point``, or the ``lower``/``upper`` end of its 95%
    interval (from ``evaluate_gates``' ``intervals``; the point value where there is none)."""

    @classmethod
    def from_config(cls, gate: _GateLike) -> GateSpec:
        """From a ``nova.config.Gate``; the value key is the gate's ``source``."""
        return cls(
            id=gate.id,
            op=gate.op,
            value=gate.value,
            reason=gate.reason,
            key=gate.source,
            bound=getattr(gate, "bound", "point"),
        )


class GateResult(_Frozen):
    """The outcome of one gate for one alternative."""

    gate: str
    """Gate id."""
    passed: bool | None
    """True passed, False failed, None unknown (not measured, or not comparable)."""
    actual: GateValue | None
    """The value that was tested (None: not measured)."""
    reason: str
    """Why it passed, failed or is unknown, in words."""
    bound: Bound = "point"
    """Which value was tested: ``point``, or the ``lower``/``upper`` end of the 95% interval."""


class Ranking(_Frozen):
    """Scores and order of the alternatives under one method."""

    method: Method
    """``weighted-sum`` or ``topsis``."""
    scores: dict[str, float]
    """Alternative -> score in [0, 1] (weighted sum, or TOPSIS closeness); higher is better."""
    order: list[str]
    """Alternatives best first (after ``apply_gates``: failing ones last)."""
    weights: dict[str, float]
    """Kept criterion -> normalised weight (sums to 1)."""
    contributions: dict[str, dict[str, float]]
    """Alternative -> criterion -> weight × normalised value (weighted sum: they add up to
    the score; TOPSIS: the weighted vector-normalised value ``v_ij``)."""
    dropped: list[str] = Field(default_factory=list)
    """Criteria no alternative has a value for; their weight went to the others."""
    missing: dict[str, list[str]] = Field(default_factory=dict)
    """Alternative -> criteria it has no value for (scored worst there)."""
    failed_gates: dict[str, list[str]] = Field(default_factory=dict)
    """Alternative -> ``gate id: reason`` of every failed gate (set by ``apply_gates``)."""
    unknown_gates: dict[str, list[str]] = Field(default_factory=dict)
    """Alternative -> ``gate id: reason`` of every gate that could not be decided."""

    @property
    def winner(self) -> str:
        """The first alternative of ``order``."""
        return self.order[0]


class Flip(_Frozen):
    """The smallest change of one criterion's weight that changes the winner."""

    criterion: str
    """Criterion id."""
    weight: float
    """Its current normalised weight (0 for a dropped criterion)."""
    winner: str
    """The current winner."""
    new_weight: float | None = None
    """Weight at which ``new_winner``'s score reaches the winner's; beyond it (by any amount)
    ``new_winner`` ranks first. None: no weight in [0, 1] changes the winner."""
    delta: float | None = None
    """``new_weight − weight`` (negative: a decrease)."""
    new_winner: str | None = None
    """The alternative that ranks first beyond ``new_weight``."""
    note: str = ""
    """Why there is no flip, where there is none."""


class ParetoFront(_Frozen):
    """Non-dominated alternatives."""

    front: list[str]
    """Alternatives no other alternative dominates (input order)."""
    dominated_by: dict[str, list[str]]
    """Dominated alternative -> the alternatives that dominate it."""
    excluded: dict[str, list[str]]
    """Alternative -> dimensions it has no value for (left out of the comparison)."""


@dataclass(frozen=True)
class _Matrix:
    alts: list[str]
    crits: list[CriterionSpec]  # kept criteria
    weights: list[float]  # normalised, aligned with crits
    cells: list[list[float | None]]  # alts × kept criteria
    dropped: list[str]
    missing: dict[str, list[str]]


def _number(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def _matrix(
    alternatives: Sequence[str], values: Values, criteria: Sequence[CriterionSpec]
) -> _Matrix:
    alts = list(alternatives)
    if not alts or len(set(alts)) != len(alts):
        raise ValueError(f"need at least one alternative and unique names, got {alts}")
    if len({c.id for c in criteria}) != len(criteria):
        raise ValueError("criterion ids must be unique")
    col = {c.id: [_number(values.get(a, {}).get(c.id)) for a in alts] for c in criteria}
    kept = [c for c in criteria if any(v is not None for v in col[c.id])]
    total = math.fsum(c.weight for c in kept)
    if total <= 0:
        raise ValueError("no criterion with a positive weight has a value for any alternative")
    missing = {a: [c.id for c in kept if col[c.id][i] is None] for i, a in enumerate(alts)}
    return _Matrix(
        alts=alts,
        crits=kept,
        weights=[c.weight / total for c in kept],
        cells=[[col[c.id][i] for c in kept] for i in range(len(alts))],
        dropped=[c.id for c in criteria if c not in kept],
        missing={a: m for a, m in missing.items() if m},
    )


def _minmax(m: _Matrix) -> list[list[float]]:  # n_ij of weighted_sum; missing cells 0
    out = [[0.0] * len(m.crits) for _ in m.alts]
    for j, c in enumerate(m.crits):
        seen = [x for row in m.cells if (x := row[j]) is not None]
        lo, hi = min(seen), max(seen)
        for i, row in enumerate(m.cells):
            x = row[j]
            if x is not None:
                r = 1.0 if hi == lo else (x - lo) / (hi - lo)
                out[i][j] = r if c.direction == "higher" or hi == lo else 1.0 - r
    return out


def _vector(m: _Matrix) -> list[list[float]]:  # r_ij of topsis; missing: worst measured r
    out = [[0.0] * len(m.crits) for _ in m.alts]
    for j, c in enumerate(m.crits):
        seen = [x for row in m.cells if (x := row[j]) is not None]
        norm = math.sqrt(math.fsum(x * x for x in seen))
        r = [x / norm if norm > 0 else 0.0 for x in seen]
        worst = min(r) if c.direction == "higher" else max(r)
        it = iter(r)
        for i, row in enumerate(m.cells):
            out[i][j] = worst if row[j] is None else next(it)
    return out


def _closeness(r: list[list[float]], w: Sequence[float], higher: list[bool]) -> list[float]:
    v = [[wj * x for wj, x in zip(w, row, strict=True)] for row in r]
    cols = list(zip(*v, strict=True))
    best = [max(c) if h else min(c) for c, h in zip(cols, higher, strict=True)]
    worst = [min(c) if h else max(c) for c, h in zip(cols, higher, strict=True)]
    out = []
    for row in v:
        dp = math.dist(row, best)
        dm = math.dist(row, worst)
        out.append(dm / (dp + dm) if dp + dm > 0 else 1.0)
    return out


def _scorer(m: _Matrix, method: Method) -> Callable[[Sequence[float]], list[float]]:
    if method == "weighted-sum":
        n = _minmax(m)
        return lambda w: [math.fsum(a * b for a, b in zip(w, row, strict=True)) for row in n]
    if method == "topsis":
        r = _vector(m)
        higher = [c.direction == "higher" for c in m.crits]
        return lambda w: _closeness(r, w, higher)
    raise ValueError(f"unknown method {method!r}; use 'weighted-sum' or 'topsis'")


def _order(alts: Sequence[str], scores: Sequence[float]) -> list[str]:
    pairs = sorted(zip(scores, alts, strict=True), key=lambda p: (-round(p[0], _DIGITS), p[1]))
    return [a for _, a in pairs]


def rank(
    alternatives: Sequence[str],
    values: Values,
    criteria: Sequence[CriterionSpec],
    method: Method = "weighted-sum",
) -> Ranking:
    """Rank by ``weighted_sum`` or ``topsis``."""
    m = _matrix(alternatives, values, criteria)
    scores = _scorer(m, method)(m.weights)
    norm = _minmax(m) if method == "weighted-sum" else _vector(m)
    return Ranking(
        method=method,
        scores=dict(zip(m.alts, scores, strict=True)),
        order=_order(m.alts, scores),
        weights={c.id: w for c, w in zip(m.crits, m.weights, strict=True)},
        contributions={
            a: {c.id: w * x for c, w, x in zip(m.crits, m.weights, row, strict=True)}
            for a, row in zip(m.alts, norm, strict=True)
        },
        dropped=m.dropped,
        missing=m.missing,
    )


def weighted_sum(
    alternatives: Sequence[str], values: Values, criteria: Sequence[CriterionSpec]
) -> Ranking:
    """Weighted sum of min–max normalised values: ``score_i = Σ_j w_j n_ij``.

    ``n_ij = (x_ij − min_j)/(max_j − min_j)`` for "higher", ``1 −`` that for "lower" (min and
    max over the measured values); an all-equal column gives ``n = 1.0`` to everyone measured
    (it cannot tell them apart, and nobody loses for it). Missing cells: ``n = 0``.
    """
    return rank(alternatives, values, criteria, "weighted-sum")


def topsis(
    alternatives: Sequence[str], values: Values, criteria: Sequence[CriterionSpec]
) -> Ranking:
    """TOPSIS closeness to the ideal point.

    ``r_ij = x_ij / sqrt(Σ_i x_ij²)`` (an all-zero column: ``r = 0``, it adds no distance),
    ``v_ij = w_j r_ij``; ideal ``v+_j`` = max over alternatives for "higher", min for
    "lower"; anti-ideal ``v−_j`` the opposite; ``d±_i = ‖v_i − v±‖₂``;
    ``score_i = d−_i / (d+_i + d−_i)``, 1.0 where both distances are 0.
    """
    return rank(alternatives, values, criteria, "topsis")


def _compare(actual: GateValue, op: GateOp, target: GateValue) -> bool | None:
    """Numbers (bools as 0/1) compare numerically, equal within ``rel 1e-9`` / ``abs 1e-12``;
    strings only with == and !=; anything else is not comparable (None)."""
    if isinstance(actual, int | float) and isinstance(target, int | float):
        x, y = float(actual), float(target)
        eq = math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
        gt, lt = x > y and not eq, x < y and not eq
        return {"==": eq, "!=": not eq, ">=": not lt, "<=": not gt, ">": gt, "<": lt}[op]
    if isinstance(actual, str) and isinstance(target, str) and op in ("==", "!="):
        return (actual == target) == (op == "==")
    return None


def _gate(
    gate: GateSpec, actual: GateValue | None, interval: tuple[float | None, float | None] | None
) -> GateResult:
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return GateResult(gate=gate.id, passed=None, actual=None, reason="not measured")
    bound: Bound = "point"
    label = ""
    if gate.bound != "point":
        end = None if interval is None else interval[0 if gate.bound == "lower" else 1]
        if end is not None:
            actual, bound, label = end, gate.bound, f"{gate.bound} 95% bound "
        else:
            label = "point value (no interval) "
    need = f"{gate.op} {gate.value!r}"
    ok = _compare(actual, gate.op, gate.value)
    if ok is None:
        why = f"cannot compare {label}{actual!r} with {need}"
    elif ok:
        why = f"{label}{actual!r} {need}"
    else:
        why = f"{gate.reason} (is {label}{actual!r}, needs {need})".lstrip()
    return GateResult(gate=gate.id, passed=ok, actual=actual, reason=why, bound=bound)


def evaluate_gates(
    values_by_alt: Mapping[str, Mapping[str, GateValue | None]],
    gates: Sequence[GateSpec],
    intervals: Intervals | None = None,
) -> dict[str, list[GateResult]]:
    """Test every gate for every alternative: ``actual = values_by_alt[alt][gate.key or id]``.

    A missing value (absent, None, NaN) gives ``passed=None`` with reason "not measured";
    values that cannot be compared (a string with ``>=``, a string against a number) give
    ``passed=None`` too. Numbers equal within ``rel 1e-9`` count as equal. A gate with
    ``bound`` lower/upper tests that end of ``intervals[alt][key]`` instead of the point value
    (and says so in ``reason``); without an interval it tests the point value and says that.
    """
    iv = intervals or {}
    return {
        alt: [_gate(g, vals.get(g.key or g.id), iv.get(alt, {}).get(g.key or g.id)) for g in gates]
        for alt, vals in values_by_alt.items()
    }


def apply_gates(ranking: Ranking, gate_results: Mapping[str, Sequence[GateResult]]) -> Ranking:
    """Move every alternative that fails a gate to the end (keeping relative order) and record
    ``gate id: reason`` of failed and of unknown gates; unknown ones keep their place."""

    def notes(alt: str, passed: bool | None) -> list[str]:
        return [f"{r.gate}: {r.reason}" for r in gate_results.get(alt, ()) if r.passed is passed]

    failed = {a: n for a in ranking.order if (n := notes(a, False))}
    unknown = {a: n for a in ranking.order if (n := notes(a, None))}
    order = sorted(ranking.order, key=lambda a: a in failed)  # stable: keeps relative order
    return ranking.model_copy(
        update={"order": order, "failed_gates": failed, "unknown_gates": unknown}
    )


def _first(order: Sequence[str], cannot_win: Collection[str]) -> str:
    """The winner: the first alternative of ``order`` that may rank first."""
    for a in order:
        if a not in cannot_win:
            return a
    raise ValueError("every alternative is in cannot_win: nothing can rank first")


_Crossing = tuple[float, str]  # (new weight, new winner)


def _linear_flip(m: _Matrix, k: int, win: int, cannot_win: Collection[str]) -> list[_Crossing]:
    """Exact crossings for the weighted sum: ``score_i(t) = a_i + b_i t`` with
    ``a_i = Σ_{j≠k} w_j n_ij / (1 − w_k)`` and ``b_i = n_ik − a_i``; the first crossing of the
    winner's line in each direction, won by the steepest line through it."""
    n, wk = _minmax(m), m.weights[k]
    a = [math.fsum(w * x for w, x in zip(m.weights, row, strict=True)) - wk * row[k] for row in n]
    a = [x / (1.0 - wk) for x in a]
    b = [row[k] - ai for row, ai in zip(n, a, strict=True)]
    out: list[_Crossing] = []
    for sign in (1.0, -1.0):  # up: lines steeper than the winner's; down: flatter ones
        hits = []
        for i, alt in enumerate(m.alts):
            slope = sign * (b[i] - b[win])
            if i != win and alt not in cannot_win and slope > 1e-12:
                t = (a[win] - a[i]) / (b[i] - b[win])
                t = max(t, wk) if sign > 0 else min(t, wk)  # float noise around a tie at w_k
                edge = 1.0 if sign > 0 else 0.0  # a tie at the very end cannot be passed
                if 0.0 <= t <= 1.0 and t != edge:
                    hits.append((sign * t, -slope, alt))
        if hits:
            st, _, alt = min(hits)
            out.append((sign * st, alt))
    return out


def _search_flip(
    m: _Matrix, k: int, win: int, method: Method, cannot_win: Collection[str]
) -> list[_Crossing]:
    """Grid of ``_GRID`` steps from ``w_k`` towards 1 and towards 0, then bisection (to 1e-12)
    of the first step where another alternative scores strictly higher; a flip that starts and
    ends within one step is missed."""
    score, wk = _scorer(m, method), m.weights[k]

    def leader(t: float) -> str | None:
        w = [t if j == k else (1.0 - t) * x / (1.0 - wk) for j, x in enumerate(m.weights)]
        s = [round(x, _DIGITS) for x in score(w)]
        top = _first(_order(m.alts, s), cannot_win)
        return top if s[m.alts.index(top)] > s[win] else None

    out: list[_Crossing] = []
    grid = [i / _GRID for i in range(_GRID + 1)]
    for steps in ([t for t in grid if t > wk], [t for t in reversed(grid) if t < wk]):
        lo = wk
        for hi in steps:
            if leader(hi) is not None:
                while abs(hi - lo) > 1e-12:
                    mid = (lo + hi) / 2
                    lo, hi = (lo, mid) if leader(mid) is not None else (mid, hi)
                out.append((hi, leader(hi) or ""))
                break
            lo = hi
    return out


def min_weight_change_to_flip(
    values: Values,
    criteria: Sequence[CriterionSpec],
    method: Method = "weighted-sum",
    *,
    cannot_win: Collection[str] = (),
) -> list[Flip]:
    """For each criterion, the smallest change of its weight alone that changes the winner.

    With current normalised weights ``w`` and criterion ``k`` set to ``t ∈ [0, 1]``, the others
    keep their proportions: ``w_j(t) = (1 − t) · w_j / (1 − w_k)`` (the weights still sum to 1).
    A flip is a ``t`` where another alternative scores strictly higher than the current winner;
    ``new_weight`` is the boundary of the nearest such region (up or down; the smaller
    ``|delta|`` wins, ties go to the increase). Weighted sum: exact (scores are linear in
    ``t``). TOPSIS: grid of 0.001 steps plus bisection. A criterion that carries all weight
    (``w_k = 1``, renormalising gives it 1 again) or was dropped never flips. Alternatives in
    ``cannot_win`` stay in the normalisation but neither win now nor take over.
    """
    m = _matrix(list(values), values, criteria)
    winner = _first(_order(m.alts, _scorer(m, method)(m.weights)), cannot_win)
    win = m.alts.index(winner)
    kept = [c.id for c in m.crits]
    out = []
    for c in criteria:
        k = kept.index(c.id) if c.id in kept else None
        wk = 0.0 if k is None else m.weights[k]
        hits: list[_Crossing] = []
        if k is not None and wk < 1.0 - 1e-12:
            ws = method == "weighted-sum"
            hits = (
                _linear_flip(m, k, win, cannot_win)
                if ws
                else _search_flip(m, k, win, method, cannot_win)
            )
        t, alt = min(hits, key=lambda h: (abs(h[0] - wk), -h[0])) if hits else (None, None)
        note = "dropped: no values" if k is None else "no weight in [0, 1] flips it"
        out.append(
            Flip(
                criterion=c.id,
                weight=wk,
                winner=winner,
                new_weight=t,
                delta=None if t is None else t - wk,
                new_winner=alt,
                note="" if hits else note,
            )
        )
    return out


def pareto_front(
    points: Mapping[str, Mapping[str, float | None]], directions: Mapping[str, str]
) -> ParetoFront:
    """Alternatives no other dominates over the dimensions of ``directions``.

    ``a`` dominates ``b`` when ``a`` is at least as good on every dimension and strictly better
    on one ("higher"/"lower" per dimension). Alternatives without a value (absent, None, NaN)
    on any dimension are left out and listed in ``excluded``. Identical points do not dominate
    each other.
    """
    bad = {d: v for d, v in directions.items() if v not in ("higher", "lower")}
    if bad:
        raise ValueError(f"directions must be 'higher' or 'lower', got {bad}")
    sign = {d: 1.0 if v == "higher" else -1.0 for d, v in directions.items()}
    excluded: dict[str, list[str]] = {}
    pts: dict[str, list[float]] = {}  # "lower" dimensions negated: higher is always better
    for alt, vals in points.items():
        got = {d: _number(vals.get(d)) for d in directions}
        if lacking := [d for d, x in got.items() if x is None]:
            excluded[alt] = lacking
        else:
            pts[alt] = [sign[d] * x for d, x in got.items() if x is not None]

    def dominates(p: list[float], q: list[float]) -> bool:
        return all(x >= y for x, y in zip(p, q, strict=True)) and p != q

    dominated_by = {b: [a for a in pts if dominates(pts[a], pts[b])] for b in pts}
    return ParetoFront(
        front=[b for b in pts if not dominated_by[b]],
        dominated_by={b: by for b, by in dominated_by.items() if by},
        excluded=excluded,
    )
