"""Scaling the pipeline out: the stages that carry the load run as shards, then
``benchmarks --quality-run --perf-run`` decides on those runs without measuring them again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.config import init_workspace
from nova.store import RunStore


def _ws(root: Path) -> Path:
    init_workspace(root, language="en")
    cfg = yaml.safe_load((root / "nova.yaml").read_text("utf-8"))
    kind = "Gerne helfe ich Ihnen. Bitte nennen Sie Ihre Kundennummer und Ihren Zählerstand."
    cfg["candidates"] = [
        {"id": c, "model": f"mock/{c}", "provider": {"options": {"default": text}}}
        for c, text in (("helpful", kind), ("terse", "Nein."))
    ]
    cfg["candidates"][0]["role"] = "baseline"
    cfg["profiles"] = {
        "llm-core": {
            "candidates": ["helpful", "terse"],
            "quality": {"datasets": ["dialogues"], "max_cases": 12},
            "performance": {
                "concurrency": [1, 2],
                "requests": 6,
                "warmup": 1,
                "output_tokens": 4,
                "prompts": "synthetic",
                "input_tokens": 8,
            },
            "redteam": {"enabled": False},
        }
    }
    (root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    return root


def _runs(ws: Path, kind: str) -> list[str]:
    with RunStore(f"sqlite:///{ws / '.nova' / 'nova.db'}") as store:
        return [r.id for r in store.list_runs(kind=kind)]


@pytest.mark.integration
def test_the_pipeline_decides_on_sharded_runs_without_measuring_again(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    ws = _ws(tmp_path / "ws")
    nova = ["--workspace", str(ws)]
    for i in range(2):  # eval shards need no common start: one after the other
        r = run_cli(*nova, "eval", "run", "-p", "llm-core", "--run-id", "q-1", "--shard", f"{i}/2")
        assert r.code == [0, 3][i], r.err  # the last shard reports the whole run: gates fail
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
    load = [sys.executable, "-m", "nova", *nova, "perf", "run", "-p", "llm-core"]
    procs = [  # load shards wait for each other: separate processes
        subprocess.Popen([*load, "--run-id", "l-1", "--shard", f"{i}/2", "--json"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]

    use = ["--quality-run", "q-1", "--perf-run", "l-1"]
    r = run_cli(*nova, "benchmarks", "-p", "llm-core", *use, "--json")
    assert r.code == 0, r.err
    given = json.loads(r.out)
    assert (given["quality_run"], given["perf_run"]) == ("q-1", "l-1")
    assert not [w for w in given["warnings"] if "different nova.yaml" in w]
    assert _runs(ws, "quality") == ["q-1"] and _runs(ws, "performance") == ["l-1"]
    with RunStore(f"sqlite:///{ws / '.nova' / 'nova.db'}") as store:
        parent = store.get_run(given["run_id"])
        merged = store.get_run("l-1").meta["results"]
    assert parent.meta["children"] == {"quality": "q-1", "performance": "l-1"}
    ttft = {r["candidate"]: r["levels"][-1]["ttft_ms"]["p50"] for r in merged}
    assert all(ttft.values())
    r = run_cli(*nova, "report", given["run_id"])  # the report reads the runs given
    assert r.code == 0, r.err
    md = next((ws / "reports").glob(f"*{given['run_id']}*.md")).read_text("utf-8")
    assert "q-1" in md and "l-1" in md

    # The same pipeline measuring everything itself reaches the same quality numbers.
    r = run_cli(*nova, "benchmarks", "-p", "llm-core", "--json")
    assert r.code == 0, r.err
    own = json.loads(r.out)
    assert own["quality_run"] != "q-1"
    assert [x["pass_rate"] for x in own["rows"]] == [x["pass_rate"] for x in given["rows"]]
    assert [x["win_rate"] for x in own["rows"]] == [x["win_rate"] for x in given["rows"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quality-run", "l-2"], "run l-2 is a performance run, not a quality run"),
        (["--quality-run", "q-2"], "run q-2 is running, not completed: finish it first"),
        (["--perf-run", "l-2", "--resume", "x"], "--resume continues a benchmarks run"),
    ],
)
def test_a_run_that_cannot_be_used_is_refused_before_anything_starts(
    tmp_path: Path, run_cli: Callable[..., Any], args: list[str], message: str
) -> None:
    ws = _ws(tmp_path / "ws")
    nova = ["--workspace", str(ws)]
    r = run_cli(*nova, "eval", "run", "-p", "llm-core", "--run-id", "q-2", "--shard", "0/2")
    assert r.code == 0, r.err  # shard 1/2 has not run: q-2 is not complete
    small = ["--concurrency", "1", "--requests", "2"]
    r = run_cli(*nova, "perf", "run", "-p", "llm-core", *small, "--run-id", "l-2", "--shard", "0/1")
    assert r.code == 0, r.err
    r = run_cli(*nova, "benchmarks", "-p", "llm-core", *args)
    assert r.code == 1
    assert message in r.err
    assert _runs(ws, "benchmarks") == []


@pytest.mark.integration
def test_a_run_measured_under_another_nova_yaml_is_used_with_a_warning(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    ws = _ws(tmp_path / "ws")
    nova = ["--workspace", str(ws)]
    r = run_cli(*nova, "eval", "run", "-p", "llm-core", "--run-id", "q-3", "--shard", "0/1")
    assert r.code in (0, 3), r.err
    cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
    cfg["profiles"]["llm-core"]["quality"]["max_cases"] = 6  # another measurement now
    (ws / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    r = run_cli(*nova, "benchmarks", "-p", "llm-core", "--quality-run", "q-3", "--json")
    assert r.code == 0, r.err
    warned = [w for w in json.loads(r.out)["warnings"] if "different nova.yaml" in w]
    assert len(warned) == 1 and "q-3" in warned[0]
