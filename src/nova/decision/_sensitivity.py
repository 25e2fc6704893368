"""Stability of the winner: Dirichlet weight sensitivity and the paired bootstrap of the cases.

Definitions (those of ``_methods`` apply: values, weights, order, cannot win):

* **Cases.** ``CaseValues`` holds, for criteria measured as a mean over the cases of a quality
  run (pass rate, win rate, escalation rates), the per-case values. A *paired bootstrap*
  resample draws ``n`` case ids with replacement from the ``n`` distinct case ids (the same
  ids for every alternative) and replaces each such criterion value by the mean of its
  per-case values over the drawn ids (a case drawn twice counts twice; a cell none of whose
  cases was drawn keeps its measured value). Gates are not re-evaluated per resample.
* **Randomness.** Every draw comes from one ``random.Random(seed)``: the same inputs and seed
  give the same numbers on every machine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping, Sequence

from nova.decision._methods import (
    CriterionSpec,
    Method,
    Values,
    _first,
    _Frozen,
    _matrix,
    _order,
    _scorer,
)

__all__ = ["CaseValues", "MeasurementNoise", "Sensitivity", "measurement_noise", "sensitivity"]

CaseValues = Mapping[str, Mapping[str, Mapping[str, float]]]
"""Alternative -> criterion id -> case id -> per-case value whose mean is the criterion value."""


class Sensitivity(_Frozen):
    """How stable the winner is when the weights are perturbed."""

    method: Method
    """Ranking method that was resampled."""
    definition: str
    """The perturbation in words, e.g. ``Dirichlet(α = 50·w), 2000 samples, seed 0``."""
    weights: dict[str, float]
    """The chosen normalised weights ``w`` the samples centre on."""
    p_first: dict[str, float]
    """Alternative -> share of samples in which it ranks first (sums to 1)."""
    mean_rank: dict[str, float]
    """Alternative -> mean rank over the samples (1 = best)."""
    cases: int = 0
    """Distinct cases of the paired bootstrap drawn in every sample together with the
    weights (0: only the weights were perturbed)."""


class MeasurementNoise(_Frozen):
    """How often the winner changes from measurement noise alone (weights fixed)."""

    definition: str
    """The resampling in words, with the number of cases and resamples and the seed."""
    cases: int
    """Distinct cases resampled (paired: the same case ids for every alternative)."""
    resamples: int
    """Bootstrap resamples."""
    seed: int
    """Seed of ``random.Random``."""
    winner: str
    """The winner on the measured values."""
    winner_changed: float
    """Share of resamples in which another alternative ranks first."""
    p_first: dict[str, float]
    """Alternative -> share of resamples in which it ranks first."""


def _dirichlet(rng: random.Random, alpha: Sequence[float]) -> list[float]:
    """One Dirichlet draw via normalised Gamma(α_j, 1) variates; α_j = 0 stays 0."""
    g = [rng.gammavariate(a, 1.0) if a > 0 else 0.0 for a in alpha]
    total = math.fsum(g)
    return [x / total for x in g] if total > 0 else [a / math.fsum(alpha) for a in alpha]


class _Bootstrap:
    """Paired bootstrap of the cases behind criterion values (see ``Cases`` above)."""

    def __init__(self, values: Values, cases: CaseValues | None) -> None:
        self.values = values
        per = cases or {}
        ids = sorted(
            {k for by_crit in per.values() for by_case in by_crit.values() for k in by_case}
        )
        self.n = len(ids)
        pos = {k: i for i, k in enumerate(ids)}
        # Per cell: the values and a 1/0 "has a value" vector aligned with ``ids``, so a
        # resample's mean is two sums over the drawn indices.
        self.cells: list[tuple[str, str, list[float], list[float]]] = []
        for alt, by_crit in per.items():
            for crit, by_case in by_crit.items():
                vals, has = [0.0] * self.n, [0.0] * self.n
                for k, x in by_case.items():
                    vals[pos[k]], has[pos[k]] = float(x), 1.0
                self.cells.append((alt, crit, vals, has))

    def draw(self, rng: random.Random) -> dict[str, dict[str, float | None]]:
        out = {a: dict(v) for a, v in self.values.items()}
        if not self.n:
            return out
        idx = rng.choices(range(self.n), k=self.n)  # one draw for every alternative: paired
        for alt, crit, vals, has in self.cells:
            den = sum(map(has.__getitem__, idx))
            if den and alt in out:
                out[alt][crit] = sum(map(vals.__getitem__, idx)) / den
        return out


def sensitivity(
    values: Values,
    criteria: Sequence[CriterionSpec],
    *,
    samples: int = 2000,
    concentration: float = 50.0,
    seed: int = 0,
    method: Method = "weighted-sum",
    cannot_win: Collection[str] = (),
    cases: CaseValues | None = None,
) -> Sensitivity:
    """Monte-Carlo stability of the ranking under perturbed weights (and measurements).

    Alternatives are the keys of ``values``: all of them, so the normalisation is the one of
    ``rank``; those in ``cannot_win`` (failed gates) are ranked but never first, and in each
    sample placed after the others (as ``apply_gates`` does). ``samples`` times, draw weights
    from ``Dirichlet(α = c·w)`` where ``w`` are the normalised chosen weights and
    ``c = concentration`` (mean ``w``; variance of ``w_j`` is ``w_j(1 − w_j)/(c + 1)``;
    criteria with weight 0 stay 0), and, when ``cases`` are given, one paired bootstrap
    resample of the cases; re-rank with ``method`` (normalising the resampled values again)
    and count first places and ranks. Draws come from ``random.Random(seed)``.
    """
    if samples < 1 or concentration <= 0:
        raise ValueError(f"need samples >= 1 and concentration > 0, got {samples}, {concentration}")
    m = _matrix(list(values), values, criteria)
    _first(m.alts, cannot_win)
    boot = _Bootstrap(values, cases)
    score = _scorer(m, method)
    rng = random.Random(seed)
    first = dict.fromkeys(m.alts, 0)
    rank_sum = dict.fromkeys(m.alts, 0)
    for _ in range(samples):
        w = _dirichlet(rng, [concentration * w for w in m.weights])
        if boot.n:
            score = _scorer(_matrix(m.alts, boot.draw(rng), m.crits), method)
        order = _order(m.alts, score(w))
        order = sorted(order, key=lambda a: a in cannot_win)  # stable: failing ones last
        first[order[0]] += 1
        for pos, a in enumerate(order, 1):
            rank_sum[a] += pos
    what = f"Dirichlet(α = {concentration:g}·w)"
    if boot.n:
        what += f" × paired bootstrap of {boot.n} cases"
    return Sensitivity(
        method=method,
        definition=f"{what}, {samples} samples, seed {seed}",
        weights={c.id: w for c, w in zip(m.crits, m.weights, strict=True)},
        p_first={a: n / samples for a, n in first.items()},
        mean_rank={a: s / samples for a, s in rank_sum.items()},
        cases=boot.n,
    )


def measurement_noise(
    values: Values,
    criteria: Sequence[CriterionSpec],
    cases: CaseValues,
    *,
    resamples: int = 2000,
    seed: int = 0,
    method: Method = "weighted-sum",
    cannot_win: Collection[str] = (),
) -> MeasurementNoise:
    """How often the winner changes from measurement noise alone.

    The weights stay as chosen; ``resamples`` times, draw one paired bootstrap resample of
    the cases (``random.Random(seed)``), re-rank every alternative of ``values`` with
    ``method`` and note the winner (first alternative not in ``cannot_win``).
    ``winner_changed`` = share of resamples whose winner differs from the winner on the
    measured values. Without any case values: ``ValueError``.
    """
    boot = _Bootstrap(values, cases)
    if resamples < 1 or not boot.n:
        raise ValueError(f"need resamples >= 1 and case values, got {resamples}, {boot.n} cases")
    m = _matrix(list(values), values, criteria)
    winner = _first(_order(m.alts, _scorer(m, method)(m.weights)), cannot_win)
    rng = random.Random(seed)
    first = dict.fromkeys(m.alts, 0)
    for _ in range(resamples):
        sample = _matrix(m.alts, boot.draw(rng), m.crits)
        first[_first(_order(m.alts, _scorer(sample, method)(m.weights)), cannot_win)] += 1
    return MeasurementNoise(
        definition=f"paired bootstrap of {boot.n} cases (the same case ids for every "
        f"candidate), weights fixed, {resamples} resamples, seed {seed}",
        cases=boot.n,
        resamples=resamples,
        seed=seed,
        winner=winner,
        winner_changed=1.0 - first[winner] / resamples,
        p_first={a: n / resamples for a, n in first.items()},
    )
