from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from nova.config import NovaConfig, Workspace
from nova.decision import (
    CandidateEvidence,
    Evidence,
    Measurement,
    build_matrix,
    write_matrix,
)


def config(
    w_quality: float, w_cost: float, gates: list[dict[str, Any]] | None = None
) -> NovaConfig:
    return NovaConfig.model_validate(
        {
            "name": "t",
            "candidates": [{"id": c, "model": f"mock/{c}"} for c in ("a", "b", "c")],
            "kpis": [
                {
                    "id": "pass",
                    "name": "Pass",
                    "metric": "pass_rate",
                    "target": 0.8,
                    "direction": "higher",
                    "owner": "Aura",
                },
                {
                    "id": "cost",
                    "name": "Cost",
                    "metric": "cost_per_1k_conversations",
                    "target": 5,
                    "direction": "lower",
                    "owner": "Aura",
                },
            ],
            "decision": {
                "criteria": [
                    {
                        "id": "quality",
                        "source": "kpi:pass",
                        "weight": w_quality,
                        "direction": "higher",
                    },
                    {"id": "cost", "source": "kpi:cost", "weight": w_cost, "direction": "lower"},
                ],
                "gates": gates or [],
            },
            "governance": {"language": "en"},
        }
    )


def evidence(vals: dict[str, tuple[float, float]] | None = None) -> Evidence:
    vals = vals or {"a": (0.9, 6.0), "b": (0.8, 2.0), "c": (0.7, 1.0)}
    ev = Evidence(
        generated_at=dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
        nova_version="t",
        config_hash="sha256:x",
    )
    for cid, (q, cost) in vals.items():
        ev.candidates[cid] = CandidateEvidence(
            candidate=cid,
            metrics={
                "pass_rate": Measurement(
                    value=q, low=q - 0.05, high=q + 0.05, unit="%", source="run:r1"
                ),
                "cost_per_1k_conversations": Measurement(
                    value=cost, unit="USD", source="price-sheet:s1"
                ),
                "license.commercial_use": Measurement(value=cid != "b", source="catalog:x"),
            },
        )
    return ev


def test_changing_one_weight_changes_the_ranking_as_computed_by_hand() -> None:
    # min-max: quality a=1, b=0.5, c=0; cost (lower better) a=0, b=0.8, c=1
    # weights 0.5/0.5: a=0.5, b=0.25+0.4=0.65, c=0.5      -> b first
    r = build_matrix(config(0.5, 0.5), evidence())
    assert r.weighted_sum.scores == pytest.approx({"a": 0.5, "b": 0.65, "c": 0.5})
    assert r.winner == "b"
    # weights 0.8/0.2: a=0.8, b=0.4+0.16=0.56, c=0.2      -> a first
    r = build_matrix(config(0.8, 0.2), evidence())
    assert r.order == ["a", "b", "c"] and r.winner == "a"
    assert abs(r.weighted_sum.scores["b"] - 0.56) < 1e-12


def test_a_failed_gate_ranks_last_with_its_reason_and_cannot_win() -> None:
    gate = [
        {
            "id": "commercial",
            "source": "catalog:license.commercial_use",
            "op": "==",
            "value": True,
            "reason": "commercial product",
        }
    ]
    r = build_matrix(config(0.5, 0.5, gate), evidence())
    # Scores as above (a .5, b .65, c .5); b fails the gate, a and c tie -> a by name.
    assert r.order[-1] == "b" and r.winner == "a"
    assert any("commercial" in f for f in r.weighted_sum.failed_gates["b"])
    assert r.sensitivity is not None and r.sensitivity.p_first["b"] == 0.0


COMMERCIAL = [
    {
        "id": "commercial",
        "source": "catalog:license.commercial_use",
        "op": "==",
        "value": True,
        "reason": "commercial product",
    }
]


def test_ranking_sensitivity_and_flips_share_one_matrix_with_a_gated_candidate() -> None:
    # The example: a (quality .9, cost 6), b (.5, 2; fails the gate), c (.7, 1).
    # Min-max over all three: quality a 1, b 0, c .5; cost (lower better, 1..6) a 0, b .8, c 1.
    # Weights .5/.5: a .5, b .4, c .75 -> c. (Normalising over a and c only would tie them at
    # .5 and name a: the old flips did that.)
    # Flips (quality t, cost 1 − t): a = t, c = 1 − t/2 -> a = c at t = 2/3 (Δ +1/6);
    # cost t: a = 1 − t, c = .5 + t/2 -> equal at t = 1/3 (Δ −1/6). b (.8·cost) never leads c.
    r = build_matrix(
        config(0.5, 0.5, COMMERCIAL),
        evidence({"a": (0.9, 6.0), "b": (0.5, 2.0), "c": (0.7, 1.0)}),
    )
    assert r.weighted_sum.scores == pytest.approx({"a": 0.5, "b": 0.4, "c": 0.75})
    assert r.winner == "c" and r.order == ["c", "a", "b"]
    flips = {f.criterion: f for f in r.flips}
    assert {f.winner for f in r.flips} == {"c"}
    assert flips["quality"].new_weight == pytest.approx(2 / 3)
    assert flips["cost"].new_weight == pytest.approx(1 / 3)
    assert {f.new_winner for f in r.flips} == {"a"}
    assert r.sensitivity is not None
    assert max(r.sensitivity.p_first, key=lambda k: r.sensitivity.p_first[k]) == "c"
    assert r.sensitivity.p_first["b"] == 0.0
    assert r.sensitivity.mean_rank["b"] == 3.0


def test_matrix_files_link_evidence_and_keep_history(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    md, js, sha1 = write_matrix(ws, build_matrix(config(0.5, 0.5), evidence()))
    text = md.read_text("utf-8")
    assert "run `r1`" in text and "price sheet `s1`" in text
    assert "**Recommendation: b**" in text
    assert json.loads(js.read_text("utf-8"))["winner"] == "b"
    _, _, sha2 = write_matrix(ws, build_matrix(config(0.8, 0.2), evidence()))
    assert sha2 != sha1
    text = md.read_text("utf-8")
    assert "## History" in text and sha1[:16] in text and "**Recommendation: a**" in text
    data = json.loads(js.read_text("utf-8"))
    assert [h["winner"] for h in data["history"]] == ["b"]


def test_no_recommendation_without_measured_evidence() -> None:
    ev = evidence()
    for ce in ev.candidates.values():
        for m in ce.metrics.values():
            m.source = "catalog:x"  # as if nothing had been measured in a run
    r = build_matrix(config(0.5, 0.5), ev)
    assert r.winner is None and r.order  # ranked for information, but nothing recommended
