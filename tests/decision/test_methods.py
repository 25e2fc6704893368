"""The decision math against numbers worked out by hand (in the comments next to each test)."""

from __future__ import annotations

import math

import pytest

from nova.config import Criterion, Gate
from nova.decision._methods import (
    CriterionSpec,
    GateResult,
    GateSpec,
    Method,
    apply_gates,
    evaluate_gates,
    min_weight_change_to_flip,
    pareto_front,
    rank,
    topsis,
    weighted_sum,
)
from nova.decision._sensitivity import measurement_noise, sensitivity

# The 3 × 3 example used throughout.
#
#            quality (higher, 0.5)   latency ms (lower, 0.3)   cost (lower, 0.2)
#   a        0.80                    400                       10
#   b        0.90                    800                       20
#   c        0.70                    200                        5
VALUES: dict[str, dict[str, float | None]] = {
    "a": {"quality": 0.80, "latency": 400.0, "cost": 10.0},
    "b": {"quality": 0.90, "latency": 800.0, "cost": 20.0},
    "c": {"quality": 0.70, "latency": 200.0, "cost": 5.0},
}
ALTS = ["a", "b", "c"]


def crits(q: float = 0.5, lat: float = 0.3, cost: float = 0.2) -> list[CriterionSpec]:
    return [
        CriterionSpec(id="quality", weight=q, direction="higher"),
        CriterionSpec(id="latency", weight=lat, direction="lower"),
        CriterionSpec(id="cost", weight=cost, direction="lower"),
    ]


def test_weighted_sum_by_hand() -> None:
    # Min–max normalised ("lower" inverted):
    #   quality: min .7, max .9   -> a .5,  b 1, c 0
    #   latency: min 200, max 800 -> a 1 − 200/600 = 2/3, b 0, c 1
    #   cost:    min 5, max 20    -> a 1 − 5/15 = 2/3,    b 0, c 1
    # Scores: a = .5·.5 + .3·2/3 + .2·2/3 = .25 + .2 + .1333 = .58333
    #         b = .5·1 = .5
    #         c = .3·1 + .2·1 = .5   (tie with b: broken by name, b first)
    r = weighted_sum(ALTS, VALUES, crits())
    assert r.method == "weighted-sum"
    assert r.scores == pytest.approx({"a": 0.583333, "b": 0.5, "c": 0.5}, abs=1e-6)
    assert r.order == ["a", "b", "c"]
    assert r.winner == "a"
    assert r.contributions["a"] == pytest.approx(
        {"quality": 0.25, "latency": 0.2, "cost": 0.13333}, abs=1e-5
    )
    assert r.contributions["c"] == pytest.approx({"quality": 0.0, "latency": 0.3, "cost": 0.2})
    assert r.weights == pytest.approx({"quality": 0.5, "latency": 0.3, "cost": 0.2})
    assert r.dropped == [] and r.missing == {}


def test_raw_weights_are_normalised() -> None:
    # Weights 5 : 3 : 2 are the same as .5 : .3 : .2.
    assert weighted_sum(ALTS, VALUES, crits(5, 3, 2)).scores == pytest.approx(
        weighted_sum(ALTS, VALUES, crits()).scores
    )


def test_changing_one_weight_flips_the_ranking_as_computed_by_hand() -> None:
    # Quality weight .6, the others keeping 3 : 2 of the remaining .4 -> .24 and .16:
    #   a = .6·.5 + .24·2/3 + .16·2/3 = .3 + .16 + .10667 = .56667
    #   b = .6,  c = .24 + .16 = .4            -> b overtakes a
    r = weighted_sum(ALTS, VALUES, crits(0.6, 0.24, 0.16))
    assert r.scores == pytest.approx({"a": 0.566667, "b": 0.6, "c": 0.4}, abs=1e-6)
    assert r.order == ["b", "a", "c"]
    # Quality .55 (others .27, .18): a = .275 + .45·2/3 = .575 > b = .55 -> a still wins.
    assert weighted_sum(ALTS, VALUES, crits(0.55, 0.27, 0.18)).winner == "a"


def test_topsis_by_hand() -> None:
    # Vector norms: quality sqrt(.64 + .81 + .49) = 1.392839; latency sqrt(840000) = 916.515;
    # cost sqrt(525) = 22.91288. Weighted normalised v = w · x / norm:
    #          quality   latency   cost
    #   a      .287184   .130931   .087287
    #   b      .323081   .261861   .174574
    #   c      .251286   .065465   .043644
    # Ideal (max, min, min) = (.323081, .065465, .043644); anti-ideal = (.251286, .261861, .174574)
    #   a: d+ = sqrt(.035897² + .065466² + .043643²) = .086482
    #      d- = sqrt(.035898² + .130930² + .087287²) = .161401   -> C = .161401/.247883 = .6511
    #   b: d+ = sqrt(.196396² + .130930²) = .236038, d- = .071795 -> C = .071795/.307833 = .2332
    #   c: d+ = .071795, d- = .236038                           -> C = .236038/.307833 = .7668
    r = topsis(ALTS, VALUES, crits())
    assert r.method == "topsis"
    assert r.scores == pytest.approx({"a": 0.6511, "b": 0.2332, "c": 0.7668}, abs=1e-4)
    assert r.order == ["c", "a", "b"]
    assert r.contributions["a"] == pytest.approx(
        {"quality": 0.287184, "latency": 0.130931, "cost": 0.087287}, abs=1e-6
    )
    assert rank(ALTS, VALUES, crits(), "topsis") == r


def test_topsis_all_zero_column_adds_no_distance() -> None:
    # An all-zero column has r = 0 everywhere: no distance. Its weight (.5 of 1.5) scales every
    # other v by the same factor, so d+ and d- scale alike and the closeness is unchanged.
    values = {a: {**v, "errors": 0.0} for a, v in VALUES.items()}
    with_zero = [*crits(), CriterionSpec(id="errors", weight=0.5, direction="lower")]
    r = topsis(ALTS, values, with_zero)
    assert r.scores == pytest.approx(topsis(ALTS, VALUES, crits()).scores)
    assert r.contributions["a"]["errors"] == 0.0


def test_missing_policy_drops_unmeasured_criterion_and_penalises_missing_cells() -> None:
    # "secret" has no value anywhere: dropped, weights .5 : .3 renormalised to .625 : .375.
    # b has no latency: it scores 0 there. Latency over the measured a 400, c 200:
    #   a 0, c 1.  Quality: a .5, b 1, c 0.
    #   a = .625·.5 = .3125,  b = .625·1 + 0 = .625,  c = .375·1 = .375
    values: dict[str, dict[str, float | None]] = {
        "a": {"quality": 0.8, "latency": 400.0},
        "b": {"quality": 0.9, "latency": None},
        "c": {"quality": 0.7, "latency": 200.0, "secret": math.nan},
    }
    criteria = [*crits(0.5, 0.3, 0)[:2], CriterionSpec(id="secret", weight=0.2, direction="higher")]
    r = weighted_sum(ALTS, values, criteria)
    assert r.dropped == ["secret"]
    assert r.weights == pytest.approx({"quality": 0.625, "latency": 0.375})
    assert r.missing == {"b": ["latency"]}
    assert r.scores == pytest.approx({"a": 0.3125, "b": 0.625, "c": 0.375})
    assert r.order == ["b", "c", "a"]


def test_all_equal_column_scores_one_and_missing_scores_zero() -> None:
    # License 1.0 for a and b (all equal -> 1.0 each), c not measured -> 0.
    values = {"a": {"license": 1.0}, "b": {"license": 1.0}, "c": {}}
    r = weighted_sum(ALTS, values, [CriterionSpec(id="license", weight=1, direction="higher")])
    assert r.scores == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert r.missing == {"c": ["license"]}


def test_topsis_missing_cell_takes_the_worst_measured_value() -> None:
    # b's latency is missing; the worst measured latency is a's 300, so b gets a's normalised
    # value and the two are identical: equal closeness, a before b by name.
    #   quality norm sqrt(1.64) = 1.28062, latency norm (measured only) sqrt(130000) = 360.555
    #   v (w = .5 each): a, b (.312348, .416025); c (.234261, .277350)
    #   ideal (.312348, .277350), anti-ideal (.234261, .416025)
    #   a, b: d+ = .138675, d- = .078087 -> .3602;  c: d+ = .078087, d- = .138675 -> .6398
    values: dict[str, dict[str, float | None]] = {
        "a": {"quality": 0.8, "latency": 300.0},
        "b": {"quality": 0.8},
        "c": {"quality": 0.6, "latency": 200.0},
    }
    r = topsis(ALTS, values, crits(0.5, 0.5, 0)[:2])
    assert r.scores == pytest.approx({"a": 0.3602, "b": 0.3602, "c": 0.6398}, abs=1e-4)
    assert r.order == ["c", "a", "b"]
    assert r.missing == {"b": ["latency"]}


def test_no_measured_weighted_criterion_is_an_error() -> None:
    with pytest.raises(ValueError, match="positive weight"):
        weighted_sum(ALTS, {"a": {}}, crits())
    with pytest.raises(ValueError, match="unknown method"):
        rank(ALTS, VALUES, crits(), "borda")  # type: ignore[arg-type]  # a wrong method on purpose


GATES = [
    GateSpec(id="commercial", op="==", value=True, reason="Commercial use must be allowed"),
    GateSpec(id="pass-rate", op=">=", value=0.75, reason="Pass rate of at least 75%"),
]


def test_failing_gate_moves_alternative_last_with_reason_and_unknown_is_flagged() -> None:
    gate_values: dict[str, dict[str, float | bool | str | None]] = {
        "a": {"commercial": False, "pass-rate": 0.8},
        "b": {"commercial": True, "pass-rate": 0.9},
        "c": {"commercial": None, "pass-rate": 0.75},
    }
    results = evaluate_gates(gate_values, GATES)
    assert [r.passed for r in results["a"]] == [False, True]
    assert [r.passed for r in results["b"]] == [True, True]
    assert [r.passed for r in results["c"]] == [None, True]
    assert results["c"][0].reason == "not measured"
    assert results["a"][0].actual is False

    ranked = apply_gates(weighted_sum(ALTS, VALUES, crits()), results)  # a, b, c before
    assert ranked.order == ["b", "c", "a"]
    assert ranked.failed_gates == {
        "a": ["commercial: Commercial use must be allowed (is False, needs == True)"]
    }
    assert ranked.unknown_gates == {"c": ["commercial: not measured"]}
    assert ranked.scores == weighted_sum(ALTS, VALUES, crits()).scores


def test_two_failing_alternatives_keep_their_relative_order() -> None:
    fail = [GateResult(gate="g", passed=False, actual=0.0, reason="no")]
    ranked = apply_gates(weighted_sum(ALTS, VALUES, crits()), {"a": fail, "b": fail})
    assert ranked.order == ["c", "a", "b"]


@pytest.mark.parametrize(
    ("actual", "op", "value", "passed"),
    [
        (0.75, ">=", 0.75, True),
        (0.1 + 0.2, "==", 0.3, True),  # equal within rel 1e-9
        (0.3, ">", 0.1 + 0.2, False),
        (0.7, "<", 0.75, True),
        (0.8, "<=", 0.75, False),
        (1.0, "==", True, True),  # bools compare as 1/0
        ("MIT", "==", "MIT", True),
        ("MIT", "!=", "MIT", False),
        ("MIT", ">=", "Apache", None),  # strings only with == and !=
        ("yes", "==", 1.0, None),
    ],
)
def test_gate_comparisons(
    actual: float | str, op: str, value: float | str, passed: bool | None
) -> None:
    gate = GateSpec.model_validate({"id": "g", "op": op, "value": value})
    assert evaluate_gates({"x": {"g": actual}}, [gate])["x"][0].passed is passed


def test_gate_key_defaults_to_id_and_config_converters() -> None:
    gate = GateSpec.from_config(
        Gate(id="eu", source="catalog:license.eu_restricted", op="==", value=False, reason="EU")
    )
    assert gate.key == "catalog:license.eu_restricted"
    res = evaluate_gates({"x": {"catalog:license.eu_restricted": False}}, [gate])
    assert res["x"][0].passed is True
    spec = CriterionSpec.from_config(
        Criterion(id="q", source="metric:pass_rate", weight=2, direction="higher")
    )
    assert spec == CriterionSpec(id="q", weight=2.0, direction="higher")


def test_sensitivity_is_deterministic_and_sums_to_one() -> None:
    s = sensitivity(VALUES, crits())
    assert s == sensitivity(VALUES, crits())
    assert s.definition == "Dirichlet(α = 50·w), 2000 samples, seed 0"
    assert math.fsum(s.p_first.values()) == pytest.approx(1.0)
    # a leads by .083 at the chosen weights but b overtakes at quality 4/7: a is likely, not sure.
    assert 0.5 < s.p_first["a"] < 1.0
    assert all(1.0 <= r <= 3.0 for r in s.mean_rank.values())
    t = sensitivity(VALUES, crits(), samples=200, concentration=5, seed=7, method="topsis")
    assert t.definition == "Dirichlet(α = 5·w), 200 samples, seed 7"
    assert math.fsum(t.p_first.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["weighted-sum", "topsis"])
def test_dominant_alternative_wins_every_sample(method: Method) -> None:
    # d is best on every criterion: it ranks first whatever the weights.
    values: dict[str, dict[str, float | None]] = {
        **VALUES,
        "d": {"quality": 0.95, "latency": 150.0, "cost": 4.0},
    }
    s = sensitivity(values, crits(), samples=300, method=method)
    assert s.p_first["d"] == 1.0
    assert s.mean_rank["d"] == 1.0


def test_zero_weight_stays_zero_in_sensitivity() -> None:
    # b is better only on cost, which has weight 0: a wins in every sample.
    values = {"a": {"quality": 0.9, "cost": 9.0}, "b": {"quality": 0.8, "cost": 1.0}}
    s = sensitivity(values, [crits()[0], CriterionSpec(id="cost", weight=0, direction="lower")])
    assert s.p_first == {"a": 1.0, "b": 0.0}


def test_min_weight_change_two_criteria_matches_analytic_crossing() -> None:
    #       q (higher, .7)   c (lower, .3)    normalised q, c
    #   x   .9               30               1,   0
    #   y   .6               10               0,   1
    #   z   .8               20               2/3, .5
    # Scores: x .7, y .3, z .7·2/3 + .3·.5 = .61667 -> x wins.
    # Weight of q = t, of c = 1 − t:  x = t, y = 1 − t, z = 2t/3 + (1 − t)/2 = .5 + t/6.
    #   x = z at t = .5 + t/6 -> t = .6 (first crossing going down; x = y only at .5);
    #   going up x has the steepest line: no flip.  -> q: .6, delta −.1, new winner z.
    # Weight of c = t: x = 1 − t, z = 2/3 − t/6 -> equal at t = .4: delta +.1, new winner z.
    values = {"x": {"q": 0.9, "c": 30.0}, "y": {"q": 0.6, "c": 10.0}, "z": {"q": 0.8, "c": 20.0}}

    def criteria(wq: float) -> list[CriterionSpec]:
        return [
            CriterionSpec(id="q", weight=wq, direction="higher"),
            CriterionSpec(id="c", weight=1 - wq, direction="lower"),
        ]

    q, c = min_weight_change_to_flip(values, criteria(0.7))
    assert (q.criterion, q.winner, q.new_winner) == ("q", "x", "z")
    assert q.new_weight == pytest.approx(0.6) and q.delta == pytest.approx(-0.1)
    assert (c.criterion, c.new_winner) == ("c", "z")
    assert c.new_weight == pytest.approx(0.4) and c.delta == pytest.approx(0.1)
    # Just past the crossing z wins; just before it x still does.
    assert weighted_sum(["x", "y", "z"], values, criteria(0.599)).winner == "z"
    assert weighted_sum(["x", "y", "z"], values, criteria(0.601)).winner == "x"


def test_min_weight_change_three_criteria_by_hand() -> None:
    # Quality t, latency .6(1 − t), cost .4(1 − t):  a = t/2 + 2(1 − t)/3, b = t, c = 1 − t.
    #   a = b at t = 4/7 (up, +1/14 = .0714); a = c at t = 2/5 (down, −.1) -> b at 4/7.
    # Latency t (quality 5/7, cost 2/7 of the rest): a = 2t/3 + 23(1 − t)/42, b = 5(1 − t)/7,
    #   c = t + 2(1 − t)/7.  a = b at t = .2 (−.1); a = c at t = 11/25 (+.14) -> b at .2.
    # Cost t (quality .625, latency .375 of the rest): a = 2t/3 + .5625(1 − t),
    #   b = .625(1 − t), c = t + .375(1 − t).  a = b at 3/35 (−4/35); a = c at .36 -> b at 3/35.
    flips = {f.criterion: f for f in min_weight_change_to_flip(VALUES, crits())}
    assert flips["quality"].new_weight == pytest.approx(4 / 7)
    assert flips["quality"].delta == pytest.approx(1 / 14)
    assert flips["latency"].new_weight == pytest.approx(0.2)
    assert flips["cost"].new_weight == pytest.approx(3 / 35)
    assert flips["cost"].delta == pytest.approx(3 / 35 - 0.2)
    assert {f.new_winner for f in flips.values()} == {"b"}


def test_topsis_flip_is_a_real_boundary() -> None:
    # No closed form: check the found weight separates the two winners.
    (f,) = [
        f for f in min_weight_change_to_flip(VALUES, crits(), "topsis") if f.criterion == "quality"
    ]
    assert f.winner == "c" and f.new_winner == "a" and f.new_weight is not None
    assert f.delta == pytest.approx(f.new_weight - 0.5)
    for t, winner in ((f.new_weight - 1e-6, "c"), (f.new_weight + 1e-6, "a")):
        assert topsis(ALTS, VALUES, crits(t, 0.6 * (1 - t), 0.4 * (1 - t))).winner == winner


@pytest.mark.parametrize("method", ["weighted-sum", "topsis"])
def test_no_flip_for_dominant_alternative_dropped_or_sole_criterion(method: Method) -> None:
    values = {"x": {"q": 0.9, "c": 10.0}, "y": {"q": 0.6, "c": 30.0}}
    criteria = [
        CriterionSpec(id="q", weight=1, direction="higher"),
        CriterionSpec(id="c", weight=1, direction="lower"),
        CriterionSpec(id="none", weight=1, direction="lower"),
    ]
    flips = min_weight_change_to_flip(values, criteria, method)
    assert [f.new_weight for f in flips] == [None, None, None]
    assert flips[2].note == "dropped: no values"
    # All weight on q (c has weight 0): renormalising always gives q weight 1 again.
    sole = min_weight_change_to_flip(
        {"x": {"q": 0.9, "c": 30.0}, "y": {"q": 0.6, "c": 10.0}},
        [criteria[0], CriterionSpec(id="c", weight=0, direction="lower")],
        method,
    )
    assert sole[0].new_weight is None
    # c (weight 0) raised to t, q = 1 − t. Weighted sum: x = 1 − t, y = t -> cross at .5.
    # TOPSIS: r_q = (.83205, .55470), r_c = (.948683, .316228) for (x, y); ideal (x_q, y_c):
    #   d+_x = d-_y = .632456 t,  d-_x = d+_y = .277350 (1 − t)
    #   -> equal closeness at t = .277350 / (.277350 + .632456) = .3048
    expected = {"weighted-sum": 0.5, "topsis": 0.3048}[method]
    assert sole[1].new_weight == pytest.approx(expected, abs=1e-4)
    assert sole[1].new_winner == "y"


def test_pareto_front() -> None:
    # p3 is worse than p2 on all three; p4 equals p1 except a higher cost; p5 lacks cost.
    points: dict[str, dict[str, float | None]] = {
        "p1": {"quality": 0.90, "cost": 10.0, "latency": 500.0},
        "p2": {"quality": 0.80, "cost": 5.0, "latency": 400.0},
        "p3": {"quality": 0.70, "cost": 6.0, "latency": 450.0},
        "p4": {"quality": 0.90, "cost": 12.0, "latency": 500.0},
        "p5": {"quality": 0.95, "cost": None},
        "p6": {"quality": 0.80, "cost": 5.0, "latency": 400.0},  # identical to p2
    }
    front = pareto_front(points, {"quality": "higher", "cost": "lower", "latency": "lower"})
    assert front.front == ["p1", "p2", "p6"]
    assert front.dominated_by == {"p3": ["p2", "p6"], "p4": ["p1"]}
    assert front.excluded == {"p5": ["cost", "latency"]}
    with pytest.raises(ValueError, match="higher"):
        pareto_front(points, {"quality": "up"})


@pytest.mark.parametrize("method", ["weighted-sum", "topsis"])
def test_cannot_win_stays_in_the_normalisation_but_never_ranks_first(method: Method) -> None:
    # b is the weighted-sum winner at .5 quality weight in a 2-criteria setup below, but
    # cannot win; the winner is the best of the rest under the *same* normalisation.
    values = {"a": {"q": 0.9, "c": 6.0}, "b": {"q": 0.5, "c": 2.0}, "c": {"q": 0.7, "c": 1.0}}
    criteria = [
        CriterionSpec(id="q", weight=1, direction="higher"),
        CriterionSpec(id="c", weight=1, direction="lower"),
    ]
    ranked = rank(["a", "b", "c"], values, criteria, method)
    expected = next(x for x in ranked.order if x != "b")
    s = sensitivity(values, criteria, samples=300, method=method, cannot_win={"b"})
    assert s.p_first["b"] == 0.0 and s.mean_rank["b"] == 3.0
    flips = min_weight_change_to_flip(values, criteria, method, cannot_win={"b"})
    assert {f.winner for f in flips} == {expected}
    assert all(f.new_winner != "b" for f in flips)
    with pytest.raises(ValueError, match="cannot_win"):
        sensitivity(values, criteria, cannot_win={"a", "b", "c"})


def test_measurement_noise_matches_the_binomial_probability() -> None:
    # One criterion; x passes 3 of 4 cases (.75), w is .5 on every case. A paired bootstrap
    # resample draws 4 case ids with replacement: x's mean is k/4 with k ~ Binomial(4, .75).
    # x ranks first when k/4 > .5; at k = 2 the two tie and w wins by name.
    #   P(winner changes) = P(k <= 2) = 1 − 4·.75³·.25 − .75⁴ = 1 − .421875 − .316406 = .261719
    # 5,000 resamples: standard error sqrt(.26·.74/5000) = .0062; tolerance .025 (4 SE).
    values = {"x": {"q": 0.75}, "w": {"q": 0.5}}
    cases = {
        "x": {"q": {"c1": 1.0, "c2": 1.0, "c3": 1.0, "c4": 0.0}},
        "w": {"q": {f"c{i}": 0.5 for i in range(1, 5)}},
    }
    crit = [CriterionSpec(id="q", weight=1, direction="higher")]
    n = measurement_noise(values, crit, cases, resamples=5000, seed=3)
    assert n.winner == "x" and n.cases == 4 and n.resamples == 5000 and n.seed == 3
    assert n.winner_changed == pytest.approx(0.261719, abs=0.025)
    assert n.p_first["w"] == pytest.approx(n.winner_changed)
    assert n == measurement_noise(values, crit, cases, resamples=5000, seed=3)  # seeded
    assert n.definition == (
        "paired bootstrap of 4 cases (the same case ids for every candidate), weights fixed, "
        "5000 resamples, seed 3"
    )
    # The same resampling enters P(rank 1) together with the weights (one criterion: the
    # weights cannot matter, so only the cases move it).
    s = sensitivity(values, crit, samples=5000, seed=3, cases=cases)
    assert s.cases == 4 and "paired bootstrap of 4 cases" in s.definition
    assert s.p_first["w"] == pytest.approx(0.261719, abs=0.025)
    assert sensitivity(values, crit, samples=500).p_first == {"x": 1.0, "w": 0.0}


def test_paired_bootstrap_uses_the_same_cases_for_every_alternative() -> None:
    # x and y have identical per-case values: paired resamples keep them equal in every
    # sample, so x (first by name) always wins; unpaired draws would split the wins.
    per_case = {"c1": 1.0, "c2": 0.0, "c3": 1.0, "c4": 0.0, "c5": 1.0}
    values = {"x": {"q": 0.6}, "y": {"q": 0.6}}
    cases = {"x": {"q": per_case}, "y": {"q": dict(per_case)}}
    crit = [CriterionSpec(id="q", weight=1, direction="higher")]
    n = measurement_noise(values, crit, cases, resamples=2000, seed=1)
    assert n.winner_changed == 0.0 and n.p_first == {"x": 1.0, "y": 0.0}
