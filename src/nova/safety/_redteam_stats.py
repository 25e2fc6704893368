"""Statistics of red-team results: rates with Wilson intervals, and the paired comparison of
two candidates on the same attacks (exact McNemar test, Newcombe interval of the difference).

Pure Python; the Wilson interval and the exact binomial tail come from ``nova.evals``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from nova.evals import sign_test_p, wilson_interval

__all__ = [
    "PairedDifference",
    "RateCI",
    "mcnemar_exact_p",
    "newcombe_paired_interval",
    "paired_difference",
    "rate_ci",
]


class RateCI(BaseModel):
    """A share of attacks (or benign requests) with its Wilson 95% interval."""

    model_config = ConfigDict(extra="forbid")

    k: int
    """Count of events (successful attacks, or refusals of benign requests)."""
    n: int
    """Decided trials (errors without an answer are not counted)."""
    rate: float | None
    """``k / n``; None when ``n = 0``."""
    low: float
    """Lower end of the Wilson 95% interval (0 when ``n = 0``)."""
    high: float
    """Upper end of the Wilson 95% interval (1 when ``n = 0``)."""

    def fmt(self) -> str:
        """``12.5% [4.1–30.2] (3/24)`` or ``— (0/0)``."""
        if self.rate is None:
            return "— (0/0)"
        return f"{self.rate:.1%} [{self.low:.1%}–{self.high:.1%}] ({self.k}/{self.n})"


def rate_ci(k: int, n: int) -> RateCI:
    """``k`` events in ``n`` trials, Wilson 95% interval (``nova.evals.wilson_interval``)."""
    low, high = wilson_interval(k, n)
    return RateCI(k=k, n=n, rate=(k / n) if n else None, low=low, high=high)


def mcnemar_exact_p(b: int, c: int) -> float:
    """Exact two-sided McNemar test on the discordant pairs.

    ``b``: attacks that worked on A but not on B; ``c``: the reverse. Under H0 each discordant
    pair goes either way with probability 1/2, so ``p = min(1, 2·Σ_{i≤min(b,c)} C(b+c, i)/2^(b+c))``
    — the exact sign test (``nova.evals.sign_test_p``) applied to (b, c). No discordant pair: 1.0.
    """
    return sign_test_p(b, c)


def newcombe_paired_interval(
    a: int, b: int, c: int, d: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's (1998) method 10 interval for ``p_A − p_B`` of paired proportions.

    ``a``: both attacked successfully, ``b``: A only, ``c``: B only, ``d``: neither;
    ``n = a+b+c+d``, ``p_A = (a+b)/n``, ``p_B = (a+c)/n``, ``D = p_A − p_B = (b−c)/n``.
    With Wilson intervals ``(l1, u1)`` of ``p_A`` and ``(l2, u2)`` of ``p_B``, ``A = ad − bc``
    and ``P = (a+b)(c+d)(a+c)(b+d)``, the correlation estimate is Newcombe's continuity-corrected
    ``φ = (A − n/2)/sqrt(P)`` when ``A > n/2``, ``0`` when ``0 ≤ A ≤ n/2``, ``A/sqrt(P)`` when
    ``A < 0``, and 0 when a margin is 0 (as in Fagerland, Lydersen & Laake, ch. 8)::

        low  = D − sqrt((p_A−l1)² − 2φ(p_A−l1)(u2−p_B) + (u2−p_B)²)
        high = D + sqrt((u1−p_A)² − 2φ(u1−p_A)(p_B−l2) + (p_B−l2)²)

    clipped to [−1, 1]. ``n = 0`` gives (−1, 1).
    """
    n = a + b + c + d
    if min(a, b, c, d) < 0:
        raise ValueError(f"counts must be >= 0, got {(a, b, c, d)}")
    if n == 0:
        return (-1.0, 1.0)
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, confidence)
    l2, u2 = wilson_interval(a + c, n, confidence)
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    if denom == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    elif cross > n / 2:
        phi = (cross - n / 2) / math.sqrt(denom)
    else:
        phi = cross / math.sqrt(denom)
    diff = p1 - p2
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return (max(-1.0, diff - dl), min(1.0, diff + du))


class PairedDifference(BaseModel):
    """Candidate A against candidate B on the same attacks."""

    model_config = ConfigDict(extra="forbid")

    a: str
    """Candidate A."""
    b: str
    """Candidate B."""
    guardrails: bool
    """Whether the attacks ran with the rails on."""
    n: int
    """Attacks decided for both."""
    both: int
    """Worked on both."""
    only_a: int
    """Worked on A only (discordant)."""
    only_b: int
    """Worked on B only (discordant)."""
    neither: int
    """Worked on neither."""
    difference: float | None
    """ASR(A) − ASR(B) on these attacks; None when n = 0."""
    low: float
    """Newcombe method-10 95% interval, lower end."""
    high: float
    """Upper end."""
    p_value: float
    """Exact two-sided McNemar test."""


def paired_difference(
    a: str, b: str, outcomes: Sequence[tuple[bool, bool]], *, guardrails: bool
) -> PairedDifference:
    """Paired comparison from ``(success on A, success on B)`` per shared attack."""
    both = sum(1 for x, y in outcomes if x and y)
    only_a = sum(1 for x, y in outcomes if x and not y)
    only_b = sum(1 for x, y in outcomes if y and not x)
    neither = len(outcomes) - both - only_a - only_b
    low, high = newcombe_paired_interval(both, only_a, only_b, neither)
    n = len(outcomes)
    return PairedDifference(
        a=a,
        b=b,
        guardrails=guardrails,
        n=n,
        both=both,
        only_a=only_a,
        only_b=only_b,
        neither=neither,
        difference=(only_a - only_b) / n if n else None,
        low=low,
        high=high,
        p_value=mcnemar_exact_p(only_a, only_b),
    )
