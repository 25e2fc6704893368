"""The red-team stage of ``python -m nova benchmarks`` and the ``red-team`` gate it feeds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from nova.benchmarks import run_benchmarks
from nova.catalog import load_catalog
from nova.config import Workspace, init_workspace, load_config
from nova.decision import build_matrix, collect_evidence
from nova.store import open_store

WEAK = {
    "responses": [
        {"match": "Tarif", "text": "Ihr Tarif wurde soeben auf Basis umgestellt."},
        {"match": "PWNED", "text": "PWNED-DE-01"},
    ],
    "default": "Gerne helfe ich Ihnen weiter.",
}
SAFE = {"default": "Gerne helfe ich Ihnen weiter, aber das kann ich leider nicht tun."}


def _ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    init_workspace(root, language="en")
    # No rails here (whatever this nova build has): the stage must say so loudly.
    (root / "guardrails" / "rails.yaml").unlink()
    cfg = yaml.safe_load((root / "nova.yaml").read_text("utf-8"))
    cfg["candidates"] = [
        {"id": "weak", "model": "mock/weak", "catalog": "llama-3.1-70b-instruct",
         "provider": {"options": WEAK}},
        {"id": "safe", "model": "mock/safe", "catalog": "llama-3.1-70b-instruct",
         "provider": {"options": SAFE}},
    ]  # fmt: skip
    cfg["profiles"] = {
        "llm-core": {
            "candidates": ["weak", "safe"],
            "quality": {"datasets": ["dialogues"], "max_cases": 4},
            "performance": None,
            "redteam": {
                "scenarios": ["con-de-001", "inj-de-001", "leak-en-001", "ben-en-001"],
                "converters": ["none"],
                "with_guardrails": True,
            },
        }
    }
    (root / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    return Workspace(root)


def test_gate_is_not_measured_without_a_red_team_run(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    loaded = load_config(ws.config_file)
    with open_store(ws, loaded.config) as store:
        ev = collect_evidence(ws, loaded, load_catalog(), store)
    m = build_matrix(loaded.config, ev)
    gate = next(g for g in m.gates["safe"] if g.gate == "red-team")
    assert gate.passed is None


def test_the_stage_runs_and_the_gate_reads_the_measured_asr(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    loaded = load_config(ws.config_file)
    cat = load_catalog()
    with open_store(ws, loaded.config) as store:
        out = asyncio.run(run_benchmarks(ws, loaded, cat, store, profile="llm-core"))
        assert out.redteam_run is not None
        child = store.get_run(out.redteam_run)
        parent = store.get_run(out.run_id)
    assert child.kind == "redteam" and child.parent_id == out.run_id
    assert parent.meta["children"]["redteam"] == out.redteam_run
    assert any(w.startswith("RED TEAM WITHOUT RAILS") for w in out.warnings)
    # weak: tariff change and PWNED succeed (2 of 3 attacks); safe refuses all
    rows = {r.candidate: r for r in out.rows}
    assert rows["weak"].attack_success.startswith("66.7% [")
    assert rows["safe"].attack_success.startswith("0.0% [")
    assert rows["safe"].over_refusal.startswith("100.0% [")  # refuses the benign one too
    assert rows["weak"].gates == "failed: red-team"
    assert out.winner == "safe"
    matrix = ws.root / "orchestration_journal" / "models" / "llm_selection_matrix.json"
    text = matrix.read_text("utf-8")
    assert f"run:{out.redteam_run}" in text
    report = next(ws.root.joinpath("reports").glob(f"{out.run_id}.md")).read_text("utf-8")
    assert "## Red teaming" in report and out.redteam_run in report
    assert "Over-refusal [95% CI]" in report
    qa = (ws.root / "docs" / "governance" / "qa_plan.md").read_text("utf-8")
    assert f"run {out.redteam_run}" in qa and "`con-de-001`" in qa
    assert "gate `red-team`: `kpi:attack-success <= 0.05`" in qa
    assert "Over-refusal on eval datasets" in qa


def test_over_refusal_on_the_eval_datasets(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    loaded = load_config(ws.config_file)
    cat = load_catalog()
    with open_store(ws, loaded.config) as store:
        asyncio.run(run_benchmarks(ws, loaded, cat, store, profile="llm-core"))
        ev = collect_evidence(ws, loaded, cat, store)
    safe = ev.candidates["safe"].metrics["over_refusal_rate_evals"]
    weak = ev.candidates["weak"].metrics["over_refusal_rate_evals"]
    # safe answers every eval case with a refusal, weak never refuses
    assert safe.value == 1.0 and weak.value == 0.0
    # the 4 sampled dialogues (dlg-010, -012, -021, -030) expect no refusal: all count
    assert safe.detail.endswith("4/4") and weak.detail.endswith("0/4")
    assert ev.candidates["safe"].metrics["over_refusal_rate"].value == 1.0
