"""End to end with scripted candidates: a planted difference must come out with its sign."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.catalog import load_catalog
from nova.config import Workspace, load_config
from nova.evals import EvalSpec, build_report, run_eval
from nova.store import RunStore


def make_workspace(root: Path, n: int = 60, bad_every: int = 10) -> Workspace:
    """n cases; 'weak' fails every case whose number % bad_every < 3 (30%)."""
    (root / "datasets").mkdir(parents=True)
    lines = []
    weak_rules: list[dict[str, Any]] = []
    for i in range(n):
        cid = f"c{i:03d}"
        esc = i % 4 == 0
        lines.append(
            json.dumps(
                {
                    "id": cid,
                    "category": "escalation" if esc else "dialogue",
                    "language": "de" if i % 3 else "en",
                    "messages": [{"role": "user", "content": f"Frage {i}"}],
                    "expect": [
                        {"grader": "contains_any", "values": ["Antwort"]},
                        {"grader": "escalation", "expected": esc},
                    ],
                    "rationale": "test",
                }
            )
        )
        if i % bad_every < 3:
            weak_rules.append({"case": cid, "text": "Keine Ahnung."})
        elif esc:
            weak_rules.append({"case": cid, "text": "Antwort: ich verbinde [ESKALATION]"})
    strong_rules = [
        {"case": f"c{i:03d}", "text": "Antwort: ich verbinde [ESKALATION]"}
        for i in range(n)
        if i % 4 == 0
    ]
    (root / "datasets" / "dialogues.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    cfg = {
        "version": 1,
        "name": "t",
        "candidates": [
            {
                "id": "strong",
                "model": "mock/strong",
                "provider": {"options": {"responses": strong_rules, "default": "Antwort: gerne."}},
            },
            {
                "id": "weak",
                "model": "mock/weak",
                "role": "baseline",
                "provider": {"options": {"responses": weak_rules, "default": "Antwort: gerne."}},
            },
        ],
    }
    (root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    return Workspace(root)


def test_planted_difference_is_detected_with_sign_and_interval(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    loaded = load_config(ws.config_file)
    spec = EvalSpec(candidates=["strong", "weak"], baseline="weak", datasets=["dialogues"])
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, loaded, spec, store))
        rep = build_report(store, run_id, loaded.config, load_catalog())
        assert store.get_run(run_id).status == "completed"
    by = {c.candidate: c for c in rep.candidates}
    strong, weak = by["strong"], by["weak"]
    assert strong.pass_rate.rate == 1.0 and strong.pass_rate.n == 60
    assert weak.pass_rate.rate == 0.7  # planted: 18 of 60 fail
    assert weak.pass_rate.low < 0.7 < weak.pass_rate.high
    # strong wins the 18 planted cases, ties the other 42: 18/60 + 0.5 * 42/60 = 0.65
    w = strong.win_rate
    assert w is not None
    assert (w.wins, w.ties, w.losses) == (18, 42, 0)
    assert w.rate == 0.65 and w.low < 0.65 < w.high and w.low > 0.5
    assert w.p_value < 0.001  # sign test 18:0
    assert rep.bradley_terry[0][0] == "strong"
    # the planted failures hit escalation cases too: missed escalations counted separately
    assert strong.missed_escalation is not None and strong.missed_escalation.rate == 0.0
    assert weak.missed_escalation is not None and weak.missed_escalation.rate > 0
    assert weak.unnecessary_escalation is not None and weak.unnecessary_escalation.rate == 0
    assert rep.meta["datasets"]["dialogues"]["cases"] == 60
    assert len(rep.meta["datasets"]["dialogues"]["sha256"]) == 64


def test_resume_skips_completed_cases(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", n=20)
    loaded = load_config(ws.config_file)
    spec = EvalSpec(candidates=["strong", "weak"], baseline="weak", datasets=["dialogues"])
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, loaded, spec, store))
        n_before = store.count_requests(run_id)
        again = asyncio.run(run_eval(ws, loaded, spec, store, resume=run_id))
        assert again == run_id
        assert store.count_requests(run_id) == n_before == 40


def test_a_crash_marks_the_run_failed_and_the_report_still_works(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import nova.evals._runner as runner_mod

    ws = make_workspace(tmp_path / "ws", n=20)
    loaded = load_config(ws.config_file)
    spec = EvalSpec(
        candidates=["strong", "weak"],
        baseline="weak",
        datasets=["dialogues"],
        repeats=2,
        concurrency=1,
    )
    real = runner_mod.grade_case
    calls = {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 50:  # during the second repeat
            raise RuntimeError("grader bug")
        return await real(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "grade_case", flaky)
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        with pytest.raises(RuntimeError, match="grader bug"):
            asyncio.run(run_eval(ws, loaded, spec, store))
        (run,) = store.list_runs(kind="quality")
        assert run.status == "failed"
        rep = build_report(store, run.id, loaded.config, load_catalog())  # uneven repeats
        assert {c.candidate for c in rep.candidates} == {"strong", "weak"}


def test_resume_retries_cases_that_failed(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", n=10)
    cfg = yaml.safe_load((ws.root / "nova.yaml").read_text("utf-8"))
    cfg["candidates"][0]["provider"]["options"]["fail"] = "unreachable"
    (ws.root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    spec = EvalSpec(candidates=["strong", "weak"], baseline="weak", datasets=["dialogues"])
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, load_config(ws.config_file), spec, store))
        errors = [r for r in store.iter_requests(run_id) if r.error_type]
        assert len(errors) == 10
        del cfg["candidates"][0]["provider"]["options"]["fail"]  # the endpoint is back
        (ws.root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
        asyncio.run(run_eval(ws, load_config(ws.config_file), spec, store, resume=run_id))
        reqs = list(store.iter_requests(run_id))
        assert len(reqs) == 20 and not any(r.error_type for r in reqs)
        rep = build_report(store, run_id, load_config(ws.config_file).config, load_catalog())
        assert {c.candidate: c.pass_rate.rate for c in rep.candidates}["strong"] == 1.0


def test_rubric_judge_calls_are_stored_with_the_answer_they_grade(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "datasets").mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "id": f"j{i}",
                "category": "dialogue",
                "language": "de",
                "messages": [{"role": "user", "content": f"Frage {i}"}],
                "expect": [{"grader": "judge", "rubric": "polite"}],
                "rationale": "r",
            }
        )
        for i in range(4)
    ]
    (root / "datasets" / "d.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    cfg = {
        "version": 1,
        "name": "t",
        "candidates": [
            {"id": "a", "model": "mock/a", "role": "baseline"},
            {
                "id": "j",
                "model": "mock/j",
                "role": "judge",
                "provider": {
                    "options": {"default": '{"verdict": "pass", "score": 5, "reason": "ok"}'}
                },
            },
        ],
    }
    (root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    ws = Workspace(root)
    spec = EvalSpec(candidates=["a"], baseline="a", datasets=["d"], judge="j")
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, load_config(ws.config_file), spec, store))
        rows = list(store.iter_requests(run_id))
        grades = [g for g in store.iter_grades(run_id) if g.grader == "judge"]
    judge_rows = [r for r in rows if r.candidate == "j"]
    assert sorted(r.case_id for r in judge_rows) == [f"j{i}@a#r0#0" for i in range(4)]
    assert len(grades) == 4 and all(g.passed for g in grades)
