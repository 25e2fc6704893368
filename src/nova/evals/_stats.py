"""Statistics of the quality evaluation: intervals, paired tests, rankings and power.

Pure Python (``math``, ``random``, ``statistics``): no numpy or scipy, and every random draw
comes from a ``random.Random(seed)``, so the same inputs and seed give the same numbers on
every machine. Invalid arguments (a count below zero, a confidence outside (0, 1), ...) raise
``ValueError``: they are programming errors, not user input.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

__all__ = [
    "WinRate",
    "bootstrap_ci",
    "bradley_terry",
    "bradley_terry_ranking",
    "bt_win_probability",
    "cases_needed",
    "minimum_detectable_effect",
    "paired_win_rate",
    "run_to_run_sd",
    "sign_test_p",
    "wilson_interval",
    "worst_slice",
    "z_value",
]

_NORMAL = statistics.NormalDist()


def _check_unit(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")


def z_value(confidence: float = 0.95) -> float:
    """Two-sided normal quantile: ``z = Φ⁻¹(1 − (1 − confidence)/2)``.

    ``Φ⁻¹`` is ``statistics.NormalDist().inv_cdf``; ``z_value(0.95) ≈ 1.959964``.
    """
    _check_unit("confidence", confidence)
    return _NORMAL.inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p̂ = successes / n``.

    With ``z = z_value(confidence)``::

        centre = (p̂ + z²/(2n)) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p̂(1 − p̂)/n + z²/(4n²))
        (low, high) = (centre − half, centre + half), clipped to [0, 1]

    Counts may be fractional (weighted cases): the formula is used as is with the weighted
    ``successes`` and ``n``. ``n = 0`` gives ``(0.0, 1.0)``: no evidence either way.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    z = z_value(confidence)
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics at ``h = (m − 1)·q`` (numpy's default)."""
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def bootstrap_ci(
    values: Sequence[float],
    stat: Callable[[Sequence[float]], float] = statistics.fmean,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(values)``.

    ``resamples`` times, draw ``len(values)`` values with replacement
    (``random.Random(seed).choices``) and compute ``stat`` of the draw. The interval is the
    ``(1 − confidence)/2`` and ``1 − (1 − confidence)/2`` quantiles of those statistics, each
    by linear interpolation between order statistics at position ``(resamples − 1)·q``.
    """
    if not values:
        raise ValueError("bootstrap_ci needs at least one value")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    _check_unit("confidence", confidence)
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(stat(rng.choices(values, k=n)) for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    return (_quantile(stats, tail), _quantile(stats, 1.0 - tail))


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided sign test: ``P`` of a split at least this uneven if wins and losses
    were equally likely.

    With ``m = wins + losses`` and ``k = min(wins, losses)``:
    ``p = min(1, 2 · Σ_{i=0..k} C(m, i) / 2^m)``. No decided cases (``m = 0``) gives 1.0.
    Ties are not passed here: the sign test excludes them.
    """
    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses must be >= 0, got {wins}, {losses}")
    m = wins + losses
    if m == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(m, i) for i in range(k + 1))
    return min(1.0, tail / (1 << (m - 1)))  # 2·tail/2^m as an exact integer ratio


class WinRate(BaseModel):
    """How often a candidate beats a baseline on the same cases, with its uncertainty."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rate: float
    """Mean outcome over cases: a win counts 1, a tie 0.5, a loss 0."""
    low: float
    """Lower end of the percentile bootstrap interval of ``rate`` (cases resampled)."""
    high: float
    """Upper end of the percentile bootstrap interval of ``rate``."""
    confidence: float
    """Confidence level of ``low``/``high``, e.g. 0.95."""
    wins: int
    """Cases the candidate won."""
    losses: int
    """Cases the candidate lost."""
    ties: int
    """Cases judged equal."""
    n: int
    """Number of cases (``wins + losses + ties``)."""
    p_value: float
    """Exact two-sided sign test over the non-tied cases; 1.0 when every case is a tie."""
    method: str
    """How the interval and p-value were computed, for the report."""


def paired_win_rate(
    outcomes: Sequence[float],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> WinRate:
    """Win rate of a candidate against a baseline, one outcome per case.

    Each outcome is 1 (candidate wins), 0 (loses) or 0.5 (tie). ``rate`` is their mean;
    ``low``/``high`` come from ``bootstrap_ci(outcomes, resamples=..., confidence=...,
    seed=...)``, i.e. cases are resampled; ``p_value`` is ``sign_test_p(wins, losses)``.
    """
    if not outcomes:
        raise ValueError("paired_win_rate needs at least one outcome")
    bad = sorted({o for o in outcomes if o not in (0.0, 0.5, 1.0)})
    if bad:
        raise ValueError(f"outcomes must be 0, 0.5 or 1; got {bad[:5]}")
    wins = sum(1 for o in outcomes if o == 1.0)
    losses = sum(1 for o in outcomes if o == 0.0)
    ties = len(outcomes) - wins - losses
    low, high = bootstrap_ci(outcomes, resamples=resamples, confidence=confidence, seed=seed)
    return WinRate(
        rate=statistics.fmean(outcomes),
        low=low,
        high=high,
        confidence=confidence,
        wins=wins,
        losses=losses,
        ties=ties,
        n=len(outcomes),
        p_value=sign_test_p(wins, losses),
        method=(
            f"bootstrap percentile over cases, {resamples} resamples, "
            f"{confidence:.0%} level, seed {seed}; sign test excludes ties"
        ),
    )


def _reachable(start: str, edges: Mapping[str, set[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in edges[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def bradley_terry(
    wins: Mapping[tuple[str, str], float],
    *,
    iterations: int = 1000,
    tol: float = 1e-10,
    prior: float = 0.5,
) -> dict[str, float]:
    """Bradley–Terry strengths by the MM algorithm (Hunter 2004), with a small prior.

    ``wins[(a, b)]`` is how often ``a`` beat ``b``; give a tie as 0.5 to each side. The model
    says ``P(i beats j) = s_i / (s_i + s_j)``.

    Prior: every pair that met at least once gets ``prior`` pseudo-wins added to *each* side,
    ``w'_ij = w_ij + prior``. With ``prior > 0`` a player with no wins still has a finite,
    positive strength (the estimate is shrunk towards equal strengths); ``prior = 0.0`` gives
    the plain maximum-likelihood estimate.

    Iteration: with ``W_i = Σ_j w'_ij`` and ``n_ij = w'_ij + w'_ji``, repeat
    ``s_i ← W_i / Σ_j n_ij / (s_i + s_j)`` for all ``i`` at once, then rescale so that the
    geometric mean of the strengths is 1; stop when no strength changes by more than ``tol``
    (relative) or after ``iterations`` rounds, returning the last estimate.

    The estimate exists only if the (prior-adjusted) "beat" graph is strongly connected:
    every player must have beaten, directly or through others, every other player. Otherwise
    (e.g. a player who never won, with ``prior = 0``, or two groups that never met) this
    raises ``ValueError``.
    """
    if prior < 0:
        raise ValueError(f"prior must be >= 0, got {prior}")
    eff: dict[tuple[str, str], float] = {}
    players: set[str] = set()
    for (a, b), w in wins.items():
        if a == b:
            raise ValueError(f"a player cannot play itself: {a!r}")
        if w < 0:
            raise ValueError(f"wins[({a!r}, {b!r})] must be >= 0, got {w}")
        players.update((a, b))
        eff[(a, b)] = eff.get((a, b), 0.0) + w
    met = {frozenset(k) for k in eff if eff[k] + eff.get((k[1], k[0]), 0.0) > 0}
    for pair in met:
        a, b = sorted(pair)
        eff[(a, b)] = eff.get((a, b), 0.0) + prior
        eff[(b, a)] = eff.get((b, a), 0.0) + prior
    if len(players) <= 1:
        return dict.fromkeys(players, 1.0)

    beat: dict[str, set[str]] = {p: set() for p in players}
    beaten_by: dict[str, set[str]] = {p: set() for p in players}
    for (a, b), w in eff.items():
        if w > 0:
            beat[a].add(b)
            beaten_by[b].add(a)
    first = min(players)
    if _reachable(first, beat) != players or _reachable(first, beaten_by) != players:
        raise ValueError(
            "Bradley-Terry strengths are not identifiable: some player never beat (or never "
            "met) another group of players; use prior > 0 and compare every player at least once"
        )

    won = {p: sum(w for (a, _), w in eff.items() if a == p) for p in players}
    games: dict[str, dict[str, float]] = {p: {} for p in players}
    for (a, b), w in eff.items():
        games[a][b] = games[a].get(b, 0.0) + w
        games[b][a] = games[b].get(a, 0.0) + w
    s = dict.fromkeys(players, 1.0)
    for _ in range(iterations):
        new = {i: won[i] / sum(n / (s[i] + s[j]) for j, n in games[i].items()) for i in players}
        log_gm = statistics.fmean(math.log(v) for v in new.values())
        scale = math.exp(-log_gm)
        new = {p: v * scale for p, v in new.items()}
        delta = max(abs(new[p] - s[p]) / s[p] for p in players)
        s = new
        if delta <= tol:
            break
    return s


def bradley_terry_ranking(
    wins: Mapping[tuple[str, str], float],
    *,
    iterations: int = 1000,
    tol: float = 1e-10,
    prior: float = 0.5,
) -> list[tuple[str, float]]:
    """``bradley_terry(...)`` as ``(player, strength)`` pairs, strongest first (ties by name)."""
    strengths = bradley_terry(wins, iterations=iterations, tol=tol, prior=prior)
    return sorted(strengths.items(), key=lambda item: (-item[1], item[0]))


def bt_win_probability(si: float, sj: float) -> float:
    """Probability that a player of strength ``si`` beats one of strength ``sj``:
    ``si / (si + sj)``."""
    if si <= 0 or sj <= 0:
        raise ValueError(f"strengths must be > 0, got {si}, {sj}")
    return si / (si + sj)


def _power_factor(alpha: float, power: float) -> float:
    _check_unit("alpha", alpha)
    _check_unit("power", power)
    return z_value(1.0 - alpha) + _NORMAL.inv_cdf(power)


def minimum_detectable_effect(
    n: int,
    p: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    run_to_run_sd: float = 0.0,
) -> float:
    """Smallest pass-rate difference between two candidates that ``n`` cases can detect.

    Normal approximation of a two-sided test at level ``alpha`` with the given ``power``::

        MDE = (z_{1−α/2} + z_{power}) · sqrt(2·p(1 − p)/n + 2·sd²)

    ``p(1 − p)/n`` is the variance of one candidate's pass rate over ``n`` cases at pass
    rate ``p``; ``sd²`` (``run_to_run_sd`` squared, see ``run_to_run_sd()``) is the extra
    variance from re-running the same cases; both candidates contribute, hence the factors 2.
    The two candidates are treated as independent, which ignores the positive correlation of
    paired cases and counts sampling noise partly twice: the MDE is conservative (too large,
    never too small). Example: n=100, p=0.8 → (1.95996 + 0.84162)·sqrt(0.0032) ≈ 0.1585.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    if run_to_run_sd < 0:
        raise ValueError(f"run_to_run_sd must be >= 0, got {run_to_run_sd}")
    k = _power_factor(alpha, power)
    return k * math.sqrt(2.0 * p * (1.0 - p) / n + 2.0 * run_to_run_sd**2)


def cases_needed(
    mde: float,
    p: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    run_to_run_sd: float = 0.0,
) -> int:
    """Fewest cases ``n`` with ``minimum_detectable_effect(n, p, ...) <= mde``.

    Solving the MDE formula for ``n`` with ``K = z_{1−α/2} + z_{power}``::

        n = ceil(2·p(1 − p) / (mde²/K² − 2·sd²)),  at least 1

    (rounded to 9 decimals before ``ceil`` so float noise does not add a case). Raises
    ``ValueError`` when ``mde ≤ K·sqrt(2)·sd``: run-to-run noise alone hides such an effect,
    however many cases there are.
    """
    if mde <= 0:
        raise ValueError(f"mde must be > 0, got {mde}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    if run_to_run_sd < 0:
        raise ValueError(f"run_to_run_sd must be >= 0, got {run_to_run_sd}")
    k = _power_factor(alpha, power)
    room = (mde / k) ** 2 - 2.0 * run_to_run_sd**2
    if room <= 0:
        raise ValueError(
            f"an effect of {mde} is below the run-to-run noise (sd {run_to_run_sd}); "
            "no number of cases detects it: repeat samples per case or accept a larger effect"
        )
    return max(1, math.ceil(round(2.0 * p * (1.0 - p) / room, 9)))


def run_to_run_sd(samples_per_case: Sequence[Sequence[float]]) -> float:
    """Standard deviation of the overall pass rate between repeated runs of the same cases.

    ``samples_per_case[c][r]`` is the result (0/1, or a score in [0, 1]) of repeat ``r`` on
    case ``c``; every case must have the same number ``R`` of repeats. The pass rate of
    repeat ``r`` is ``rate_r = mean_c samples_per_case[c][r]``; the result is the sample
    standard deviation (divisor ``R − 1``) of ``rate_1 … rate_R``. Fewer than 2 repeats, or
    no cases, gives 0.0.
    """
    if not samples_per_case:
        return 0.0
    repeats = {len(row) for row in samples_per_case}
    if len(repeats) != 1:
        raise ValueError(f"every case needs the same number of repeats, got {sorted(repeats)}")
    r_count = repeats.pop()
    if r_count < 2:
        return 0.0
    rates = [statistics.fmean(row[r] for row in samples_per_case) for r in range(r_count)]
    return statistics.stdev(rates)


def worst_slice(rates: Mapping[str, tuple[float, int]], min_n: int = 5) -> str | None:
    """The slice with the lowest rate among those with at least ``min_n`` cases.

    ``rates[name] = (rate, n_cases)``. Equal rates go to the alphabetically first name;
    ``None`` when no slice has ``min_n`` cases.
    """
    eligible = [(rate, name) for name, (rate, n) in rates.items() if n >= min_n]
    return min(eligible)[1] if eligible else None
