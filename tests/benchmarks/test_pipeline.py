"""The main job end to end: kill -9 halfway, resume, and get the same matrix as a run that was
never interrupted (same seed, same candidates: mock and llama.cpp)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.config import init_workspace


def _workspace(root: Path) -> Path:
    init_workspace(root, language="en")
    cfg = yaml.safe_load((root / "nova.yaml").read_text("utf-8"))
    cfg["candidates"] = [
        {
            "id": "helpful",
            "model": "mock/helpful",
            "role": "baseline",
            "catalog": "mixtral-8x7b-instruct",
            "hosting": "self-hosted",
            "provider": {
                "options": {
                    "ttft_ms": 40,
                    "default": "Gerne helfe ich Ihnen. Bitte nennen Sie Ihre Kundennummer, "
                    "dann prüfe ich Rechnung, Vertrag und Zählerstand.",
                }
            },
        },
        {
            "id": "terse",
            "model": "mock/terse",
            "catalog": "gpt-4o",
            "hosting": "self-hosted",
            "provider": {"options": {"ttft_ms": 40, "default": "Nein."}},
        },
        {
            "id": "tiny",
            "model": "llamacpp/tiny",
            "catalog": "qwen2.5-0.5b-instruct",
            "hosting": "local",
            "provider": {"model_path": "nova:tiny", "max_concurrency": 1},
        },
    ]
    cfg["profiles"] = {
        "llm-core": {
            "candidates": ["helpful", "terse", "tiny"],
            "quality": {
                "datasets": ["dialogues", "compliance", "escalations"],
                "max_cases": 10,
                "max_tokens": 24,
                "seed": 7,
            },
            "performance": None,
        }
    }
    cfg["decision"] = {
        "criteria": [
            {"id": "quality", "source": "kpi:pass-rate", "weight": 0.6, "direction": "higher"},
            {"id": "win", "source": "kpi:win-rate", "weight": 0.2, "direction": "higher"},
            {
                "id": "context",
                "source": "catalog:context_window",
                "weight": 0.2,
                "direction": "higher",
            },
        ],
        "gates": [
            {
                "id": "commercial",
                "source": "catalog:license.commercial_use",
                "op": "==",
                "value": True,
                "reason": "commercial product",
            }
        ],
    }
    (root / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    return root


def _cmd(ws: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nova",
        "--workspace",
        str(ws),
        "benchmarks",
        "--profile",
        "llm-core",
        *extra,
    ]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}


def _quality_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT count(*) FROM requests").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _comparable(ws: Path) -> dict[str, Any]:
    m = json.loads(
        (ws / "orchestration_journal" / "models" / "llm_selection_matrix.json").read_text("utf-8")
    )
    return {
        "order": m["order"],
        "winner": m["winner"],
        "scores": {k: round(v, 12) for k, v in m["weighted_sum"]["scores"].items()},
        "cells": {
            c: {k: cell["display"] for k, cell in row.items()} for c, row in m["cells"].items()
        },
        "gates": {c: [g["passed"] for g in gs] for c, gs in m["gates"].items()},
    }


@pytest.mark.integration
def test_kill_resume_gives_the_matrix_of_an_uninterrupted_run(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    straight = _workspace(tmp_path / "straight")
    done = subprocess.run(
        _cmd(straight), env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Recommendation of the matrix" in done.stdout
    for rel in (
        "orchestration_journal/models/llm_selection_matrix.md",
        "docs/governance/license_review.md",
        "docs/governance/qa_plan.md",
    ):
        assert (straight / rel).is_file(), rel
    (html,) = list((straight / "reports").glob("*.html"))
    html.unlink()
    r = run_cli("--workspace", str(straight), "report", html.stem)
    assert r.code == 0, r.err
    assert html.is_file() and 'data-chart="pass_rates"' in html.read_text("utf-8")
    r = run_cli("--workspace", str(straight), "report", "nope")
    assert r.code == 1 and "no run 'nope'" in r.err

    broken = _workspace(tmp_path / "broken")
    proc = subprocess.Popen(
        _cmd(broken), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    db = broken / ".nova" / "nova.db"
    deadline = time.monotonic() + 300
    while _quality_rows(db) < 25:  # of 90 answers (30 cases x 3 candidates)
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # The killed run's llama.cpp server dies with it (PR_SET_PDEATHSIG).
    time.sleep(1.0)
    left = subprocess.run(
        ["pgrep", "-f", f"llama_cpp.server.*{broken}"], capture_output=True, text=True, check=False
    ).stdout.split()
    assert left == [], "a llama.cpp server outlived the killed run"
    with sqlite3.connect(db) as con:
        parent = con.execute("SELECT id FROM runs WHERE kind='benchmarks'").fetchone()[0]
        stored_before = con.execute("SELECT count(*) FROM requests").fetchone()[0]
    assert 25 <= stored_before < 90
    resumed = subprocess.run(
        _cmd(broken, "--resume", parent),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with sqlite3.connect(db) as con:
        n_quality = con.execute("SELECT count(*) FROM runs WHERE kind='quality'").fetchone()[0]
        answers = con.execute("SELECT count(*) FROM requests").fetchone()[0]
    assert n_quality == 1 and answers == 90  # resumed the same run, nothing twice
    assert _comparable(broken) == _comparable(straight)
