"""The runner streams its cases: the sample and order of a whole load, the run's cases in
``run_cases`` (not in runs.meta), and runs stored before that table resume as before."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from nova.catalog import load_catalog
from nova.config import load_config
from nova.datasets import load_dataset
from nova.errors import NovaError
from nova.evals import EvalSpec, Progress, build_report, run_eval, select_cases
from nova.evals import _runner as runner
from nova.evals._sources import case_sha256, scan_source
from nova.store import RunStore
from nova.store._migrations import migrate
from tests.evals.test_runner import make_workspace


def test_a_sampled_run_records_the_cases_a_whole_load_selects(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", n=40)
    loaded = load_config(ws.config_file)
    spec = EvalSpec(
        candidates=["strong", "weak"],
        baseline="weak",
        datasets=["dialogues"],
        max_cases=13,
        repeats=2,
    )
    want = select_cases(load_dataset(ws.datasets_dir / "dialogues.jsonl"), 13, spec.seed)
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, loaded, spec, store))
        run = store.get_run(run_id)
        cases = list(store.iter_run_cases(run_id))
        order = [r.case_id for r in store.iter_requests(run_id, "strong") if r.repeat == 0]
        rep = build_report(store, run_id, loaded.config, load_catalog())
    assert "case_sha256" not in run.meta and "case_facts" not in run.meta
    assert list(ws.state_dir.glob("run-cases-*")) == []  # the spilled hashes are gone
    assert (
        0 < len(want) <= 13
        and run.meta["cases"] == len(want)
        and run.meta["datasets"]["dialogues"]["cases"] == 40
    )
    assert [(c.case_id, c.sha256) for c in cases] == sorted((c.id, case_sha256(c)) for c in want)
    assert {c.case_id: (c.category, c.escalation) for c in cases} == {
        c.id: (c.category, c.id in {f"c{i:03d}" for i in range(0, 40, 4)}) for c in want
    }
    assert sorted(order) == sorted(c.id for c in want)
    strong = next(c for c in rep.candidates if c.candidate == "strong")
    assert strong.cases == len(want)
    assert sum(r.n for r in strong.by_category.values()) == len(want)
    assert set(strong.by_category) == {c.category for c in want}
    assert strong.missed_escalation is not None
    assert strong.missed_escalation.n == sum(c.category == "escalation" for c in want)


def test_a_run_stored_before_run_cases_resumes_and_names_changed_cases(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", n=6)
    loaded = load_config(ws.config_file)
    spec = EvalSpec(candidates=["strong"], datasets=["dialogues"])
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with RunStore(url, auto_migrate=False) as old:
        migrate(old.engine, upto="0005_request_parts")
        run_id = asyncio.run(run_eval(ws, loaded, spec, old))
        assert len(old.get_run(run_id).meta["case_sha256"]) == 6  # where nova kept them then
    with RunStore(url) as store:
        again = asyncio.run(run_eval(ws, loaded, spec, store, resume=run_id))
        assert again == run_id
        path = ws.datasets_dir / "dialogues.jsonl"
        lines = path.read_text("utf-8").splitlines()
        changed = json.loads(lines[1])
        changed["rationale"] = "edited"
        lines[1] = json.dumps(changed)
        path.write_text("\n".join(lines[:4]) + "\n", "utf-8")
        with pytest.raises(NovaError) as err:
            asyncio.run(run_eval(ws, loaded, spec, store, resume=run_id))
    assert "dialogues: changed c001; removed c004, c005" in str(err.value)


def test_a_resumed_run_skips_stored_cases_looked_up_batch_by_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "_LOOKUP_BATCH", 16)  # 123 cases: 8 lookups per repeat
    ws = make_workspace(tmp_path / "ws", n=123)
    loaded = load_config(ws.config_file)
    spec = EvalSpec(candidates=["strong", "weak"], datasets=["dialogues"], repeats=2)
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, loaded, spec, store))
        first = build_report(store, run_id, loaded.config, load_catalog())
        # Forget some answers, as a run killed half-way would not have them.
        gone = [(c, f"c{i:03d}", r) for i in range(0, 123, 7) for c in ("weak",) for r in (1,)]
        gone += [("strong", f"c{i:03d}", 0) for i in range(40, 110, 3)]
        with store.engine.begin() as conn:
            for c, case, r in gone:
                for table in ("grades", "requests"):
                    conn.execute(
                        sa.text(
                            f"DELETE FROM {table} WHERE run_id = :r AND candidate = :c "
                            "AND case_id = :k AND repeat = :p"
                        ),
                        {"r": run_id, "c": c, "k": case, "p": r},
                    )
        progress = Progress()
        asyncio.run(run_eval(ws, loaded, spec, store, resume=run_id, progress=progress))
        again = build_report(store, run_id, loaded.config, load_catalog())
        assert store.count_requests(run_id) == 123 * 2 * 2
    assert progress.total == 123 * 2 * 2
    assert progress.done - progress.skipped == len(gone)
    assert again.model_dump(exclude={"meta"}) == first.model_dump(exclude={"meta"})


def test_a_case_edited_during_the_run_is_never_used(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", n=6)
    path = ws.datasets_dir / "dialogues.jsonl"
    spec = EvalSpec(candidates=["strong"], datasets=["dialogues"])
    src = scan_source(path, spec.max_cases, spec.seed, None, tmp_path / "spill.jsonl")
    assert [c.id for c in src.cases()] == [f"c{i:03d}" for i in range(6)]
    lines = path.read_text("utf-8").splitlines()
    edited = json.loads(lines[3])
    edited["messages"][0]["content"] = "Eine andere Frage"
    lines[3] = json.dumps(edited)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    seen: list[str] = []
    with pytest.raises(NovaError, match="changed while the run read it \\(case c003\\)"):
        seen.extend(c.id for c in src.cases())
    assert seen == ["c000", "c001", "c002"]


def test_pairwise_judging_draws_the_answers_batch_by_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "_LOOKUP_BATCH", 3)  # 10 cases: 4 lookups
    ws = make_workspace(tmp_path / "ws", n=10)
    cfg = yaml.safe_load(ws.config_file.read_text("utf-8"))
    cfg["candidates"].append(
        {
            "id": "j",
            "model": "mock/j",
            "role": "judge",
            "provider": {"options": {"default": '{"winner": "tie", "reason": "gleich"}'}},
        }
    )
    ws.config_file.write_text(yaml.safe_dump(cfg), "utf-8")
    loaded = load_config(ws.config_file)
    spec = EvalSpec(
        candidates=["strong", "weak"], baseline="weak", datasets=["dialogues"], judge="j"
    )
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, loaded, spec, store))
        pairs = [g for g in store.iter_grades(run_id) if g.grader == "pairwise:weak"]
        rep = build_report(store, run_id, loaded.config, load_catalog())
        asyncio.run(run_eval(ws, loaded, spec, store, resume=run_id))
        again = [g for g in store.iter_grades(run_id) if g.grader == "pairwise:weak"]
    assert sorted(g.case_id for g in pairs) == [f"c{i:03d}" for i in range(10)]
    assert {g.candidate for g in pairs} == {"strong"} and all(g.score == 0.5 for g in pairs)
    assert len(again) == 10  # a resumed run judges nothing twice
    strong = next(c for c in rep.candidates if c.candidate == "strong")
    assert strong.win_method is not None and strong.win_method.startswith("LLM judge")
    assert strong.win_rate is not None and strong.win_rate.n == 10


def test_case_spill_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from nova.evals._runner import _spill_prefix, remove_stale_spills

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f"{_spill_prefix()}{done.stdout.strip()}-abc"
    alive = tmp_path / f"{_spill_prefix()}{os.getpid()}-def"
    other_host = tmp_path / "run-cases@elsewhere@1-ghi"
    for d in (dead, alive, other_host):
        d.mkdir()
        (d / "cases").write_text("x")
    assert remove_stale_spills(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and other_host.exists()
