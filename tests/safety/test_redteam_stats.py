"""Red-team statistics against numbers computed by hand (and the published ones)."""

from __future__ import annotations

import math

import pytest

from nova.safety import mcnemar_exact_p, newcombe_paired_interval, paired_difference, rate_ci


def test_rate_ci_is_the_wilson_interval() -> None:
    # k=2, n=20, z=1.959964: p=0.1, z²=3.841459, denom=1+z²/n=1.192073,
    # centre=(0.1+3.841459/40)/1.192073=0.164477, half=1.959964/1.192073·
    # sqrt(0.1·0.9/20+3.841459/1600)=1.644167·0.084043=0.138180 → [0.027866, 0.301034]
    r = rate_ci(2, 20)
    assert r.rate == 0.1 and (r.k, r.n) == (2, 20)
    assert r.low == pytest.approx(0.027866, abs=1e-5)
    assert r.high == pytest.approx(0.301034, abs=1e-5)
    assert r.fmt() == "10.0% [2.8%–30.1%] (2/20)"
    empty = rate_ci(0, 0)
    assert empty.rate is None and (empty.low, empty.high) == (0.0, 1.0)
    assert empty.fmt() == "— (0/0)"


def test_mcnemar_exact_p_by_hand() -> None:
    # b=9, c=2: m=11, 2·(C(11,0)+C(11,1)+C(11,2))/2^11 = 2·(1+11+55)/2048 = 134/2048
    assert mcnemar_exact_p(9, 2) == pytest.approx(134 / 2048)
    # b=1, c=7: 2·(1+8)/256 = 18/256 = 0.0703125
    assert mcnemar_exact_p(1, 7) == pytest.approx(0.0703125)
    # symmetric, capped at 1, and no discordant pair says nothing
    assert mcnemar_exact_p(2, 9) == mcnemar_exact_p(9, 2)
    assert mcnemar_exact_p(3, 3) == 1.0 and mcnemar_exact_p(0, 0) == 1.0
    # b=5, c=0: 2/32
    assert mcnemar_exact_p(5, 0) == pytest.approx(0.0625)


def _wilson(k: int, n: int) -> tuple[float, float]:
    # an independent Wilson interval (closed form), to check the composition below
    z = 1.959963984540054
    p = k / n
    c = (2 * n * p + z * z) / (2 * (n + z * z))
    h = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    return c - h, c + h


def test_newcombe_interval_matches_the_published_examples() -> None:
    # Fagerland, Lydersen & Laake, ch. 8 (Bentur et al. 2009: a=1, b=1, c=7, d=12):
    # Newcombe square-and-add -0.507 to -0.026; (Cavo et al. 2012: 59, 6, 16, 80):
    # -0.119 to -0.005.
    lo, hi = newcombe_paired_interval(1, 1, 7, 12)
    assert (round(lo, 3), round(hi, 3)) == (-0.507, -0.026)
    lo, hi = newcombe_paired_interval(59, 6, 16, 80)
    assert (round(lo, 3), round(hi, 3)) == (-0.119, -0.005)


def test_newcombe_interval_by_hand() -> None:
    # a=12, b=9, c=2, d=21 (Newcombe 1998, example a): n=44, p1=21/44, p2=14/44, D=7/44.
    # A=ad-bc=252-18=234 > n/2=22 → φ=(234-22)/sqrt(21·23·14·30)
    #   = 212/sqrt(202860) = 212/450.400 = 0.470693.
    a, b, c, d = 12, 9, 2, 21
    n = 44
    p1, p2 = 21 / n, 14 / n
    l1, u1 = _wilson(21, n)
    l2, u2 = _wilson(14, n)
    phi = (a * d - b * c - n / 2) / math.sqrt(21 * 23 * 14 * 30)
    assert phi == pytest.approx(0.470693, abs=1e-6)
    low = (p1 - p2) - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    high = (p1 - p2) + math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    got = newcombe_paired_interval(a, b, c, d)
    assert got == pytest.approx((low, high), abs=1e-12)
    assert got == pytest.approx((0.011243, 0.295372), abs=1e-6)


def test_paired_difference_counts_and_tests() -> None:
    # A succeeds on attacks 0-3, B on 3-4: both 1, A only 3, B only 1, neither 2.
    outcomes = [(True, False)] * 3 + [(True, True), (False, True)] + [(False, False)] * 2
    p = paired_difference("a", "b", outcomes, guardrails=False)
    assert (p.n, p.both, p.only_a, p.only_b, p.neither) == (7, 1, 3, 1, 2)
    assert p.difference == pytest.approx(2 / 7)
    assert p.p_value == pytest.approx(2 * (1 + 4) / 16)  # b=3, c=1: 2·(C(4,0)+C(4,1))/2^4
    assert (p.low, p.high) == newcombe_paired_interval(1, 3, 1, 2)
    assert p.low < p.difference < p.high
    none = paired_difference("a", "b", [], guardrails=True)
    assert none.difference is None and none.p_value == 1.0 and (none.low, none.high) == (-1, 1)
