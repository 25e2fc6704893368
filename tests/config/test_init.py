from __future__ import annotations

import csv
import re
from pathlib import Path

from nova.config import init_workspace, load_config

PLAN = Path(__file__).resolve().parents[3] / "shared" / "mission" / "plan.de.md"

EXPECTED = [
    "nova.yaml",
    "datasets/dialogues.jsonl",
    "datasets/compliance.jsonl",
    "datasets/escalations.jsonl",
    "guardrails/safety_system_prompt.md",
    "guardrails/prompt_guidelines.md",
    "guardrails/rails.yaml",
    "redteam/README.md",
    "redteam/injection.jsonl",
    "redteam/benign.jsonl",
    "orchestration_journal/models/README.md",
    "deploy/models/README.md",
    "deploy/monitoring/README.md",
    "docs/governance/README.md",
    "docs/MODEL_OPERATIONS_KICKOFF.md",
    "Agenten_Aufgaben_Uebersicht.csv",
]


def test_init_creates_the_complete_layout(tmp_path: Path) -> None:
    result = init_workspace(tmp_path / "ws")
    for rel in EXPECTED:
        assert (tmp_path / "ws" / rel).is_file(), rel
    assert (tmp_path / "ws" / ".nova").is_dir()
    assert set(EXPECTED) <= set(result.created)
    assert result.kept == [] and result.overwritten == []
    # The shipped nova.yaml is valid as it is.
    load_config(tmp_path / "ws" / "nova.yaml", env={})


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    init_workspace(ws)
    mine = b"# my own config, do not touch\n"
    (ws / "nova.yaml").write_bytes(mine)
    csv_before = (
        (ws / "Agenten_Aufgaben_Uebersicht.csv").read_bytes().replace(b"Offen", b"Erledigt", 1)
    )
    (ws / "Agenten_Aufgaben_Uebersicht.csv").write_bytes(csv_before)
    (ws / "guardrails" / "rails.yaml").unlink()

    result = init_workspace(ws)

    assert (ws / "nova.yaml").read_bytes() == mine
    assert (ws / "Agenten_Aufgaben_Uebersicht.csv").read_bytes() == csv_before
    assert result.created == ["guardrails/rails.yaml"]
    assert "nova.yaml" in result.kept and "Agenten_Aufgaben_Uebersicht.csv" in result.kept


def test_init_force_overwrites_and_says_so(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    init_workspace(ws)
    (ws / "nova.yaml").write_text("broken: [\n", encoding="utf-8")
    result = init_workspace(ws, force=True)
    assert "nova.yaml" in result.overwritten
    assert result.kept == []
    load_config(ws / "nova.yaml", env={})


def test_task_list_has_one_row_per_plan_line(tmp_path: Path) -> None:
    init_workspace(tmp_path)
    with (tmp_path / "Agenten_Aufgaben_Uebersicht.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for col in ("ID", "Aufgabe", "Verantwortlich", "Status", "Abhängigkeiten", "Nachweis"):
        assert col in rows[0]
    # The plan has 21 bullet lines (7 sections of 3); recount when shared/ is beside us.
    if PLAN.is_file():
        plan_lines = [
            ln for ln in PLAN.read_text(encoding="utf-8").splitlines() if ln.startswith("- ")
        ]
        assert len(plan_lines) == 21
    assert len(rows) == 21
    assert {r["Status"] for r in rows} <= {"Offen", "In Arbeit", "Blockiert", "Abgeschlossen"}
    ids = {r["ID"] for r in rows}
    for r in rows:
        for dep in filter(None, r["Abhängigkeiten"].split(";")):
            assert dep in ids, (r["ID"], dep)


def test_kickoff_doc_has_one_decision_log_section(tmp_path: Path) -> None:
    for lang in ("de", "en"):
        ws = tmp_path / lang
        init_workspace(ws, language=lang)
        text = (ws / "docs" / "MODEL_OPERATIONS_KICKOFF.md").read_text(encoding="utf-8")
        assert text.count("<!-- nova:decision-log:start -->") == 1
        assert text.count("<!-- nova:decision-log:end -->") == 1
        assert re.search(r"^## (Entscheidungslog|Decision log)$", text, re.M)
        assert "{{" not in text
        cfg = load_config(ws / "nova.yaml", env={}).config
        assert cfg.governance.language == lang


def test_default_config_has_three_real_candidates_a_fallback_and_local_models(
    workspace: Path,
) -> None:
    cfg = load_config(workspace / "nova.yaml", env={}).config
    ranked = [
        c
        for c in cfg.candidates
        if c.role in ("primary", "candidate", "baseline") and c.hosting != "local"
    ]
    assert len(ranked) >= 3
    assert any(
        c.role == "fallback" and c.catalog == "mixtral-8x7b-instruct" for c in cfg.candidates
    )
    assert {c.provider_kind for c in cfg.candidates} >= {"openai", "azure", "bedrock", "llamacpp"}
    assert len([c for c in cfg.candidates if c.provider_kind == "llamacpp"]) >= 3
    assert "llm-core" in cfg.profiles
    assert {k.owner for k in cfg.kpis} >= {"Aura"}
    assert [r.role for r in cfg.governance.reviewers] == ["product", "legal", "security"]
