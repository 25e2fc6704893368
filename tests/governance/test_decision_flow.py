"""The decision end to end through the CLI: evidence -> matrix -> docs -> reviews -> decide."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from nova.config import init_workspace

Run = Callable[..., Any]


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    init_workspace(ws, language="en")
    cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
    cfg["candidates"] = [
        {
            "id": "llama",
            "model": "mock/llama",
            "catalog": "llama-3.1-70b-instruct",
            "role": "primary",
            "hosting": "self-hosted",
            "gpu": "H100-80GB",
            "gpus": 2,
            "provider": {
                "options": {"default": "Gerne helfe ich Ihnen mit Ihrer Rechnung.", "ttft_ms": 1}
            },
        },
        {
            "id": "gpt",
            "model": "mock/gpt",
            "catalog": "gpt-4o",
            "role": "baseline",
            "hosting": "managed",
            "price_sheet": "azure-openai-2026-11",
            "provider": {"options": {"default": "Keine Ahnung.", "ttft_ms": 1}},
        },
        {
            "id": "mixtral",
            "model": "mock/mixtral",
            "catalog": "mixtral-8x7b-instruct",
            "role": "fallback",
            "hosting": "self-hosted",
            "gpu": "H100-80GB",
            "gpus": 2,
            "provider": {"options": {"default": "Gerne.", "ttft_ms": 1}},
        },
    ]
    cfg["profiles"] = {
        "llm-core": {
            "candidates": ["llama", "gpt", "mixtral"],
            "quality": {"datasets": ["dialogues"], "max_cases": 6},
            "performance": {
                "concurrency": [1],
                "requests": 4,
                "warmup": 0,
                "prompts": "synthetic",
                "input_tokens": 8,
                "output_tokens": 8,
            },
        }
    }
    (ws / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    # The team keeps its task list as ;-separated cp1252 with CRLF (Excel style).
    text = (ws / "Agenten_Aufgaben_Uebersicht.csv").read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows)
    data = buf.getvalue().replace("→", "->")  # cp1252 has no arrow
    (ws / "Agenten_Aufgaben_Uebersicht.csv").write_bytes(data.encode("cp1252"))
    return ws


def test_decision_flow(tmp_path: Path, run_cli: Run) -> None:
    ws = _workspace(tmp_path)
    w = ["--workspace", str(ws)]
    assert run_cli(*w, "eval", "run", "--profile", "llm-core").code in (0, 3)
    assert run_cli(*w, "perf", "run", "--profile", "llm-core").code == 0
    # the red-team gate needs a measured attack success rate: before the run it is open ...
    assert run_cli(*w, "matrix").code == 0
    r = run_cli(*w, "decide", "--candidate", "llama", "--by", "Anna")
    assert "hard gate red-team not measured" in r.err
    # ... after it, it is measured (the shipped library against every candidate)
    r = run_cli(*w, "redteam", "run", "--profile", "llm-core", "--guardrails", "off")
    assert r.code == 0, r.err
    r = run_cli(*w, "matrix")
    assert r.code == 0, r.err
    matrix = ws / "orchestration_journal" / "models" / "llm_selection_matrix.md"
    assert "Recommendation" in matrix.read_text("utf-8")
    assert run_cli(*w, "docs").code == 0
    for name in (
        "license_review",
        "dsfa",
        "exit_strategy",
        "fallback_plan",
        "qa_plan",
        "kpi_catalogue",
        "lora_compatibility",
        "deployment_options",
    ):
        assert (ws / "docs" / "governance" / f"{name}.md").is_file(), name

    csv_before = (ws / "Agenten_Aufgaben_Uebersicht.csv").read_bytes()
    kickoff_before = (ws / "docs" / "MODEL_OPERATIONS_KICKOFF.md").read_bytes()
    r = run_cli(*w, "decide", "--candidate", "llama", "--by", "Anna")
    assert r.code == 3
    assert "approval of legal: no review" in r.err
    assert (ws / "Agenten_Aufgaben_Uebersicht.csv").read_bytes() == csv_before
    assert (ws / "docs" / "MODEL_OPERATIONS_KICKOFF.md").read_bytes() == kickoff_before

    assert run_cli(*w, "review", "request", "--candidate", "llama", "--by", "Anna").code == 0
    for role, who in (("product", "Anna"), ("legal", "Lena Weber"), ("security", "Tom")):
        r = run_cli(
            *w,
            "review",
            "approve",
            "--candidate",
            "llama",
            "--role",
            role,
            "--by",
            who,
            "--comment",
            "ok",
        )
        assert r.code == 0, r.err
    # The analytics owner approves the KPI catalogue: recorded, not required for the decision.
    r = run_cli(
        *w, "review", "approve", "--candidate", "llama", "--role", "analytics", "--by", "Aura"
    )
    assert r.code == 0 and "not required for the decision" in r.out, r.err
    r = run_cli(*w, "decide", "--candidate", "llama", "--by", "Anna")
    assert r.code == 0, r.err + r.out
    kickoff = (ws / "docs" / "MODEL_OPERATIONS_KICKOFF.md").read_text("utf-8")
    assert "### Decision" in kickoff and "llama" in kickoff and "Lena Weber" in kickoff
    assert "_No decision recorded yet._" not in kickoff
    assert kickoff.startswith(kickoff_before.decode("utf-8").split("<!-- nova:decision-log")[0])

    after = (ws / "Agenten_Aufgaben_Uebersicht.csv").read_bytes()
    assert b"\r\n" in after and after.decode("cp1252")  # still cp1252, CRLF
    old_rows = list(csv.reader(io.StringIO(csv_before.decode("cp1252")), delimiter=";"))
    new_rows = list(csv.reader(io.StringIO(after.decode("cp1252")), delimiter=";"))
    status = old_rows[0].index("Status")
    changed = [n[0] for o, n in zip(old_rows, new_rows, strict=True) if o != n]
    assert "SOPHIA-13" in changed and "SOPHIA-19" in changed and "SOPHIA-15" in changed
    assert "SOPHIA-08" not in changed  # deploy manifests do not exist yet
    assert "SOPHIA-14" in changed  # Aura approved the KPI catalogue
    assert "SOPHIA-11" in changed  # the red-team run above finished
    assert "SOPHIA-06" not in changed  # Legal's answers in the license review are still open
    assert "SOPHIA-21" not in changed  # alerts not activated
    for o, n in zip(old_rows, new_rows, strict=True):
        if o != n:
            assert n[status] == "Abgeschlossen"
            assert o[:status] + o[status + 1 :] == n[:status] + n[status + 1 :]
    assert run_cli(*w, "audit", "verify").code == 0
    again = run_cli(*w, "decide", "--candidate", "llama", "--by", "Anna")
    assert again.code == 1 and "already recorded" in again.err

    # A new matrix version makes the approvals stale.
    cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
    cfg["decision"]["criteria"][0]["weight"] = 0.9
    (ws / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    assert run_cli(*w, "matrix").code == 0
    r = run_cli(*w, "decide", "--candidate", "llama", "--check")
    assert r.code == 3 and "earlier matrix version" in r.out


def test_managed_candidate_needs_a_completed_dsfa(tmp_path: Path, run_cli: Run) -> None:
    ws = _workspace(tmp_path)
    w = ["--workspace", str(ws)]
    run_cli(*w, "eval", "run", "--profile", "llm-core")
    assert run_cli(*w, "matrix").code == 0
    assert run_cli(*w, "docs").code == 0
    r = run_cli(*w, "decide", "--candidate", "gpt", "--check")
    assert r.code == 3
    assert "dsfa" in r.out.lower()
    assert "human section(s) still open ([to be assessed by the DPO], [to be completed by" in r.out
