from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.evals.test_runner import make_workspace


def test_eval_run_show_compare_and_quality_gate(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    ws = make_workspace(tmp_path / "ws")
    r = run_cli("--workspace", str(ws.root), "eval", "run", "--datasets", "dialogues")
    assert r.code == 0, r.err
    assert "Quality per candidate" in r.out and "Definitions:" in r.out
    assert "100.0% [" in r.out and "70.0% [" in r.out
    run_id = r.out.strip().rsplit("Run id: ", 1)[1].split()[0]
    r = run_cli("--workspace", str(ws.root), "eval", "show", run_id, "--json")
    data = json.loads(r.out)
    assert {c["candidate"] for c in data["candidates"]} == {"strong", "weak"}
    r = run_cli("--workspace", str(ws.root), "eval", "compare", run_id)
    assert "65.0%" in r.out and "18/42/0" in r.out

    # A KPI target on the pass rate turns a miss into exit code 3.
    cfg = yaml.safe_load((ws.root / "nova.yaml").read_text("utf-8"))
    cfg["kpis"] = [
        {
            "id": "pass",
            "name": "Pass rate",
            "metric": "pass_rate",
            "target": 0.8,
            "direction": "higher",
            "owner": "Aura",
        }
    ]
    (ws.root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    r = run_cli("--workspace", str(ws.root), "eval", "run", "--datasets", "dialogues")
    assert r.code == 3
    assert "weak: Pass rate 70.0% misses the target ≥ 0.8" in r.err
    assert "strong:" not in r.err


def test_datasets_validate_reports_lines_and_stats_counts(
    workspace: Path, run_cli: Callable[..., Any]
) -> None:
    r = run_cli("--workspace", str(workspace), "datasets", "stats", "--json")
    assert r.code == 0, r.err
    bad = workspace / "datasets" / "broken.jsonl"
    bad.write_text('{"id": "x"}\nnot json\n', "utf-8")
    r = run_cli("--workspace", str(workspace), "datasets", "validate")
    assert r.code == 2
    assert f"{bad}:1:" in r.err and f"{bad}:2:" in r.err and "invalid JSON" in r.err
