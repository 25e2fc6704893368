"""The matrix from a real quality run: per-case evidence, the baseline's win rate, resampled
cases in P(rank 1), the measurement-noise line and gates on interval bounds."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.config import init_workspace

Run = Callable[..., Any]

GOOD = (
    "Gerne helfe ich Ihnen. Im Kundenportal (online oder per App) mit Ihrer Kundennummer; "
    "zahlen können Sie per SEPA-Lastschrift oder Überweisung; Ihr Verbrauch bestimmt den Abschlag."
)


def _workspace(tmp_path: Path, gates: list[dict[str, Any]] | None = None) -> Path:
    ws = tmp_path / "ws"
    init_workspace(ws, language="en")
    cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
    answers = {"good": GOOD, "mid": "Gerne helfe ich Ihnen online im Portal.", "base": "Nein."}
    cfg["candidates"] = [
        {
            "id": cid,
            "model": f"mock/{cid}",
            "role": "baseline" if cid == "base" else "candidate",
            "hosting": "local",
            "provider": {"options": {"default": text, "ttft_ms": 1}},
        }
        for cid, text in answers.items()
    ]
    cfg["profiles"] = {
        "p": {
            "quality": {"datasets": ["dialogues"], "max_cases": 12},
            "performance": None,
        }
    }
    cfg["decision"]["criteria"] = [
        {"id": "quality", "source": "kpi:pass-rate", "weight": 0.6, "direction": "higher"},
        {"id": "win-rate", "source": "kpi:win-rate", "weight": 0.4, "direction": "higher"},
    ]
    cfg["decision"]["gates"] = gates or []
    cfg["decision"]["sensitivity_samples"] = 300
    (ws / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    return ws


def _matrix(ws: Path, run_cli: Run) -> dict[str, Any]:
    w = ["--workspace", str(ws)]
    r = run_cli(*w, "eval", "run", "--profile", "p")
    assert r.code in (0, 3), r.err  # 3: a quality gate of the eval itself may fail
    r = run_cli(*w, "matrix", "--json")
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def test_case_values_average_to_the_reported_rates_and_baseline_wins_half(
    tmp_path: Path, run_cli: Run
) -> None:
    m = _matrix(_workspace(tmp_path), run_cli)
    ev = m["evidence"]["candidates"]
    # The baseline ties with itself: 0.5 by definition, from the run, not "not measured".
    base = ev["base"]["metrics"]["win_rate"]
    assert base["value"] == 0.5 and base["source"].startswith("run:")
    assert "by definition" in base["detail"]
    assert m["cells"]["base"]["win-rate"]["display"] == "50.0%"
    # Every rate's per-case values average to the value the quality report computed.
    checked = 0
    for cid in ("good", "mid", "base"):
        for key in ("pass_rate", "win_rate"):
            meas = ev[cid]["metrics"][key]
            cases = meas["cases"]
            assert cases, (cid, key)
            assert math.fsum(cases.values()) / len(cases) == pytest.approx(meas["value"])
            checked += 1
    assert checked == 6
    # The candidates really differ (otherwise the checks above prove little).
    rates = {cid: ev[cid]["metrics"]["pass_rate"]["value"] for cid in ("good", "mid", "base")}
    assert rates["good"] > rates["mid"] > rates["base"]


def test_p_rank1_resamples_the_cases_and_the_matrix_states_the_noise(
    tmp_path: Path, run_cli: Run
) -> None:
    ws = _workspace(tmp_path)
    m = _matrix(ws, run_cli)
    shown = run_cli("--workspace", str(ws), "matrix")
    assert "Measurement noise alone: the winner good changes in" in shown.out
    n_cases = len(m["evidence"]["candidates"]["good"]["metrics"]["pass_rate"]["cases"])
    sens = m["sensitivity"]
    assert sens["cases"] == n_cases == 12
    assert sens["definition"] == (
        f"Dirichlet(α = 50·w) × paired bootstrap of {n_cases} cases, 300 samples, seed 0"
    )
    noise = m["noise"]
    assert noise["winner"] == m["winner"] == "good"
    assert noise["resamples"] == 300 and noise["seed"] == 0 and noise["cases"] == n_cases
    assert 0.0 <= noise["winner_changed"] < 0.5
    assert noise["winner_changed"] == pytest.approx(1 - noise["p_first"]["good"])
    text = (ws / "orchestration_journal" / "models" / "llm_selection_matrix.md").read_text("utf-8")
    assert "Measurement noise alone (weights fixed): the winner good changes in" in text
    assert f"paired bootstrap of {n_cases} cases" in text and "300 resamples, seed 0" in text


def test_a_gate_on_the_lower_bound_fails_where_the_point_value_passes(
    tmp_path: Path, run_cli: Run
) -> None:
    def gate(bound: str) -> list[dict[str, Any]]:
        return [
            {
                "id": "quality-floor",
                "source": "kpi:pass-rate",
                "op": ">=",
                "value": 0.0,  # replaced below by a value between the bound and the point
                "reason": "Quality floor.",
                "bound": bound,
            }
        ]

    first = _matrix(_workspace(tmp_path / "a"), run_cli)
    pr = first["evidence"]["candidates"]["good"]["metrics"]["pass_rate"]
    assert pr["low"] < pr["value"]
    floor = (pr["low"] + pr["value"]) / 2
    results = {}
    for bound in ("point", "lower"):
        ws = _workspace(tmp_path / bound, gate(bound))
        cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
        cfg["decision"]["gates"][0]["value"] = floor
        (ws / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
        m = _matrix(ws, run_cli)
        (res,) = m["gates"]["good"]
        results[bound] = res
        text = (ws / "orchestration_journal" / "models" / "llm_selection_matrix.md").read_text(
            "utf-8"
        )
        label = {"point": "point value", "lower": "lower 95% bound"}[bound]
        assert f"| quality-floor | `kpi:pass-rate` | >= {floor!r} | {label} |" in text
        if bound == "lower":
            assert "- good / quality-floor (lower 95% bound): Quality floor. (is lower" in text
    assert results["point"]["passed"] is True and results["point"]["bound"] == "point"
    assert results["lower"]["passed"] is False and results["lower"]["bound"] == "lower"
    assert results["lower"]["actual"] == pytest.approx(pr["low"])
    assert "lower 95% bound" in results["lower"]["reason"]
