"""Statistics of the quality evaluation, checked against values computed by hand."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from pydantic import ValidationError

from nova.evals._stats import (
    WinRate,
    bootstrap_ci,
    bradley_terry,
    bradley_terry_ranking,
    bt_win_probability,
    cases_needed,
    minimum_detectable_effect,
    paired_win_rate,
    run_to_run_sd,
    sign_test_p,
    wilson_interval,
    worst_slice,
    z_value,
)


def test_z_value_matches_normal_tables() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.90) == pytest.approx(1.644854, abs=1e-6)
    with pytest.raises(ValueError):
        z_value(1.0)


def test_wilson_8_of_10() -> None:
    # z = 1.959964, z² = 3.841459, p = 0.8, n = 10
    # denom  = 1 + 3.841459/10 = 1.3841459
    # centre = (0.8 + 3.841459/20) / 1.3841459 = 0.9920730 / 1.3841459 = 0.716738
    # half   = 1.959964/1.3841459 · sqrt(0.8·0.2/10 + 3.841459/400)
    #        = 1.416012 · sqrt(0.016 + 0.0096036) = 1.416012 · 0.160011 = 0.226578
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_extremes_and_empty() -> None:
    # p = 0: centre = half = (z²/20)/denom, so low = 0; high = (z²/10)/denom
    #      = 0.3841459 / 1.3841459 = 0.277533. p = 1 mirrors it: low = 1 − 0.277533.
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12)
    assert high == pytest.approx(0.277533, abs=1e-6)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.722467, abs=1e-6)
    assert high == pytest.approx(1.0, abs=1e-12)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_fractional_counts_and_bad_input() -> None:
    # Weighted counts use the same formula: 4/5 with weights halved is 8/10 with n = 5.
    low, high = wilson_interval(2.5, 5.0)
    assert 0.0 < low < 0.5 < high < 1.0
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_sign_test_exact_values() -> None:
    # 9 wins, 1 loss: 2 · (C(10,0) + C(10,1)) / 2^10 = 2 · 11 / 1024 = 22/1024
    assert sign_test_p(9, 1) == pytest.approx(22 / 1024, rel=1e-12)
    assert sign_test_p(1, 9) == pytest.approx(0.021484375, rel=1e-12)
    # 5:5: 2 · (1+10+45+120+210+252)/1024 = 1276/1024 > 1 → capped at 1
    assert sign_test_p(5, 5) == 1.0
    assert sign_test_p(0, 0) == 1.0
    # 3:0: 2 · 1/8 = 0.25
    assert sign_test_p(3, 0) == pytest.approx(0.25)


def test_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    values = [0.0, 1.0, 1.0, 0.5, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]  # mean 0.65
    first = bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) == first
    assert bootstrap_ci(values, seed=8) != first
    assert first[0] < 0.65 < first[1]
    assert bootstrap_ci([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3))


def test_bootstrap_with_another_statistic() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    low, high = bootstrap_ci(values, statistics.median, resamples=500, seed=1)
    assert 1.0 <= low <= 3.0 <= high <= 100.0


def test_paired_win_rate_counts_ties_half() -> None:
    # 3 wins, 1 loss, 2 ties: rate = (3 + 0.5·2) / 6 = 4/6; sign test on 3:1 = 2·5/16 = 0.625
    result = paired_win_rate([1, 1, 1, 0, 0.5, 0.5], seed=3)
    assert (result.wins, result.losses, result.ties, result.n) == (3, 1, 2, 6)
    assert result.rate == pytest.approx(4 / 6)
    assert result.p_value == pytest.approx(0.625)
    assert result.low <= result.rate <= result.high
    assert "2000 resamples" in result.method
    assert "seed 3" in result.method
    assert "excludes ties" in result.method


def test_paired_win_rate_all_ties_and_bad_input() -> None:
    result = paired_win_rate([0.5] * 4)
    assert result.p_value == 1.0
    assert (result.low, result.rate, result.high) == pytest.approx((0.5, 0.5, 0.5))
    with pytest.raises(ValueError):
        paired_win_rate([1, 0.3])
    with pytest.raises(ValueError):
        paired_win_rate([])


def test_win_rate_model_forbids_extra_fields() -> None:
    data = paired_win_rate([1, 0]).model_dump()
    with pytest.raises(ValidationError):
        WinRate(**data, extra_field=1)


def test_planted_effect_is_found() -> None:
    rng = random.Random(20240601)
    outcomes = [1.0 if rng.random() < 0.7 else 0.0 for _ in range(400)]
    result = paired_win_rate(outcomes)
    # SE ≈ sqrt(0.7·0.3/400) = 0.0229, so the 95 % interval is about ±0.045 wide.
    assert result.low < 0.7 < result.high
    assert result.low > 0.5
    assert result.high - result.low == pytest.approx(2 * 1.96 * 0.0229, abs=0.02)
    assert result.p_value < 1e-6


# A beats B 3:1, B beats C 3:1, A beats C 3:1 (every pair met 4 times).
TRIANGLE = {
    ("A", "B"): 3.0,
    ("B", "A"): 1.0,
    ("B", "C"): 3.0,
    ("C", "B"): 1.0,
    ("A", "C"): 3.0,
    ("C", "A"): 1.0,
}


def _independent_bt(wins: dict[tuple[str, str], float]) -> dict[str, float]:
    """Zermelo's fixed point, updated one player at a time (Gauss-Seidel), 5000 rounds."""
    players = sorted({p for pair in wins for p in pair})
    s = dict.fromkeys(players, 1.0)
    for _ in range(5000):
        for i in players:
            w_i = sum(w for (a, _), w in wins.items() if a == i)
            denom = sum(
                (wins.get((i, j), 0.0) + wins.get((j, i), 0.0)) / (s[i] + s[j])
                for j in players
                if j != i
            )
            s[i] = w_i / denom
    gm = math.exp(statistics.fmean(math.log(v) for v in s.values()))
    return {p: v / gm for p, v in s.items()}


def test_bradley_terry_mle_conditions_and_order() -> None:
    s = bradley_terry(TRIANGLE, prior=0.0)
    assert s["A"] > s["B"] > s["C"]
    # MLE: observed wins of i == Σ_j n_ij · s_i / (s_i + s_j), with n_ij = 4.
    observed = {"A": 6.0, "B": 4.0, "C": 2.0}
    for i, w_i in observed.items():
        expected = sum(4 * s[i] / (s[i] + s[j]) for j in s if j != i)
        assert expected == pytest.approx(w_i, abs=1e-6)
    assert math.prod(s.values()) == pytest.approx(1.0)  # geometric mean 1
    # Symmetry: reversing every result and swapping A↔C gives the same data, so s → 1/s
    # leaves the estimate unchanged: s_B = 1 and s_A · s_C = 1.
    assert s["B"] == pytest.approx(1.0, abs=1e-6)
    assert s["A"] * s["C"] == pytest.approx(1.0, abs=1e-6)
    independent = _independent_bt(TRIANGLE)
    for p in s:
        assert s[p] == pytest.approx(independent[p], rel=1e-6)


def test_bradley_terry_two_players_closed_form() -> None:
    # Two players: s_A/s_B = w_AB/w_BA; geometric mean 1 → s_A = sqrt(w_AB/w_BA).
    s = bradley_terry({("A", "B"): 3.0, ("B", "A"): 1.0}, prior=0.0)
    assert s["A"] == pytest.approx(math.sqrt(3.0), rel=1e-9)
    assert s["B"] == pytest.approx(1 / math.sqrt(3.0), rel=1e-9)
    # Prior 0.5 on each side: s_A = sqrt(3.5/1.5) = 1.527525
    s = bradley_terry({("A", "B"): 3.0, ("B", "A"): 1.0})
    assert s["A"] == pytest.approx(1.527525, rel=1e-6)
    assert bt_win_probability(s["A"], s["B"]) == pytest.approx(3.5 / 5.0)


def test_bradley_terry_prior_keeps_winless_player_finite() -> None:
    sweep = {("A", "B"): 4.0, ("B", "C"): 2.0, ("C", "B"): 2.0, ("A", "C"): 1.0}
    with pytest.raises(ValueError, match="not identifiable"):
        bradley_terry(sweep, prior=0.0)  # A never lost: its MLE strength is infinite
    s = bradley_terry(sweep)
    assert all(0 < v < math.inf for v in s.values())
    ranking = bradley_terry_ranking(sweep)
    assert ranking[0][0] == "A"
    assert [v for _, v in ranking] == sorted(s.values(), reverse=True)


def test_bradley_terry_ranking_and_disconnected_groups() -> None:
    assert [name for name, _ in bradley_terry_ranking(TRIANGLE)] == ["A", "B", "C"]
    with pytest.raises(ValueError, match="not identifiable"):
        bradley_terry({("A", "B"): 1.0, ("C", "D"): 1.0})
    with pytest.raises(ValueError):
        bradley_terry({("A", "A"): 1.0})
    assert bradley_terry({}) == {}


def test_minimum_detectable_effect_by_hand() -> None:
    # (z_.975 + z_.80) · sqrt(2 · 0.8 · 0.2 / 100) = (1.959964 + 0.841621) · 0.0565685 = 0.158481
    assert minimum_detectable_effect(100, 0.8) == pytest.approx(0.15848, abs=1e-5)
    # With run-to-run sd 0.02: 2.801585 · sqrt(0.0032 + 2·0.0004) = 2.801585 · 0.0632456 = 0.177188
    assert minimum_detectable_effect(100, 0.8, run_to_run_sd=0.02) == pytest.approx(
        0.177188, abs=1e-5
    )


def test_cases_needed_round_trips() -> None:
    assert cases_needed(minimum_detectable_effect(100, 0.8), 0.8) == 100
    for mde in (0.05, 0.1, 0.2):
        n = cases_needed(mde, 0.7, run_to_run_sd=0.01)
        assert minimum_detectable_effect(n, 0.7, run_to_run_sd=0.01) <= mde
        assert n == 1 or minimum_detectable_effect(n - 1, 0.7, run_to_run_sd=0.01) > mde
    # Noise floor: K·sqrt(2)·sd = 2.801585 · 1.414214 · 0.05 = 0.198 > 0.1
    with pytest.raises(ValueError, match="run-to-run noise"):
        cases_needed(0.1, 0.8, run_to_run_sd=0.05)


def test_run_to_run_sd_small_example() -> None:
    samples = [
        [1, 1, 1, 1],
        [1, 0, 1, 0],
        [0, 0, 1, 1],
    ]
    # Repeat rates: 2/3, 1/3, 3/3, 2/3; mean 2/3; squared deviations 0, 1/9, 1/9, 0
    # → variance (2/9)/3 = 2/27, sd = sqrt(2/27) = 0.272166
    assert run_to_run_sd(samples) == pytest.approx(math.sqrt(2 / 27))
    assert run_to_run_sd([[1], [0]]) == 0.0
    assert run_to_run_sd([]) == 0.0
    with pytest.raises(ValueError):
        run_to_run_sd([[1, 0], [1]])


def test_worst_slice_respects_min_n() -> None:
    rates = {"de": (0.9, 40), "fr": (0.6, 3), "it": (0.7, 10), "es": (0.7, 12)}
    assert worst_slice(rates) == "es"  # fr too small; es and it tie, es first by name
    assert worst_slice(rates, min_n=1) == "fr"
    assert worst_slice(rates, min_n=100) is None
