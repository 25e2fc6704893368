"""The benchmark report shows costs in USD and EUR (rate and date in the header) and flags
a stale price sheet in the summary and the cost table."""

from __future__ import annotations

from nova.report import render_report
from tests.report.test_report import inputs, perf

FX = "1 EUR = 1.0411 USD (European Central Bank reference rate of 2025-02-28)"


def test_report_costs_in_eur_and_stale_sheet_flagged() -> None:
    runs = perf()
    a, b = runs
    assert a.cost is not None and b.cost is not None
    a.cost = a.cost.model_copy(
        update={
            "eur_per_1k_conversations": 3.2 / 1.0411,
            "fx": FX,
            "sheet_stale": True,
            "basis": a.cost.basis + "; STALE price sheet: demo was retrieved 2025-07-20",
        }
    )
    b.cost = b.cost.model_copy(update={"eur_per_1k_conversations": 1.1 / 1.0411, "fx": FX})
    _, md, _ = render_report(inputs(perf=runs))
    # Summary: USD 3.20 (flagged), EUR 3.07 = 3.2 / 1.0411; b: 1.10 USD, 1.06 EUR.
    assert f"EUR / 1k conversations ({FX})" in md
    row_a = next(x for x in md.splitlines() if x.startswith("| a |"))
    assert "| 3.20 ⚠ | 3.07 |" in row_a and "STALE price sheet" in row_a
    row_b = next(x for x in md.splitlines() if x.startswith("| b |"))
    assert "| 1.10 | 1.06 |" in row_b and "STALE" not in row_b
    # Cost table at the operating point: EUR column, the basis names the stale sheet and rate.
    cost_a = next(
        x
        for x in md.splitlines()
        if x.startswith("| a | concurrency 4") and "basis" not in x and "price sheet demo" in x
    )
    assert "| 3.20 | 3.07 |" in cost_a and "STALE price sheet: demo" in cost_a
    assert f"EUR at {FX}" in cost_a


def test_report_states_the_measurement_noise_next_to_the_sensitivity() -> None:
    from nova.decision import build_matrix
    from tests.report.test_report import config, evidence

    ev = evidence()
    # 20 cases per candidate whose means are the pass rates .85, .78 (c fails a gate).
    for cid, passed in (("a", 17), ("b", 15), ("c", 13)):
        m = ev.candidates[cid].metrics["pass_rate"]
        cases = {f"k{i:02d}": 1.0 if i < passed else 0.0 for i in range(20)}
        ev.candidates[cid].metrics["pass_rate"] = m.model_copy(
            update={"value": passed / 20, "cases": cases}
        )
    matrix = build_matrix(config(), ev)
    assert matrix.noise is not None and matrix.sensitivity is not None
    _, md, _ = render_report(inputs(matrix=matrix))
    n = matrix.noise
    assert (
        f"Measurement noise alone (weights fixed): the winner {n.winner} changes in "
        f"{n.winner_changed:.1%} of the resamples (paired bootstrap of 20 cases" in md
    )
    assert "Dirichlet(α = 50·w) × paired bootstrap of 20 cases, 2000 samples, seed 0" in md
