"""``nova eval run --resume RUN``: the stored settings, and a refusal naming the cases when a
dataset changed since the run started. The writer commits on a timer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nova.config import load_config
from nova.errors import NovaError
from nova.evals import EvalSpec, resume_spec, run_eval
from nova.evals._runner import _Writer
from nova.store import GradeRecord, RequestRecord, RunStore, open_store
from tests.conftest import Result
from tests.evals.test_runner import make_workspace

Run = Callable[..., Result]


def test_resume_takes_the_stored_spec_without_repeating_options(
    tmp_path: Path, run_cli: Run
) -> None:
    ws = make_workspace(tmp_path / "ws", n=8)
    w = ["--workspace", str(ws.root)]
    first = run_cli(
        *w, "eval", "run", "--candidates", "strong", "--datasets", "dialogues", "--max-cases", "4"
    )
    assert first.code == 0, first.err
    run_id = first.out.rsplit("Run id: ", 1)[1].strip()
    with open_store(ws, load_config(ws.config_file).config) as store:
        spec = resume_spec(store, run_id)
    assert spec.candidates == ["strong"] and spec.max_cases == 4
    again = run_cli(*w, "eval", "run", "--resume", run_id)
    assert again.code == 0, again.err
    assert "0 cases answered, 4 resumed from the store" in again.out
    clash = run_cli(*w, "eval", "run", "--resume", run_id, "--max-cases", "8")
    assert clash.code == 2 and "drop --max-cases" in clash.err


def test_resume_refuses_when_a_dataset_changed_and_names_the_cases(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", n=6)
    spec = EvalSpec(candidates=["strong"], datasets=["dialogues"])
    path = ws.datasets_dir / "dialogues.jsonl"
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run_id = asyncio.run(run_eval(ws, load_config(ws.config_file), spec, store))
        lines = path.read_text("utf-8").splitlines()
        changed = json.loads(lines[2])
        changed["messages"][0]["content"] = "Eine andere Frage"
        lines[2] = json.dumps(changed)
        extra = json.loads(lines[0])
        extra["id"] = "c999"
        path.write_text("\n".join([*lines[:5], json.dumps(extra)]) + "\n", "utf-8")
        with pytest.raises(NovaError) as err:
            asyncio.run(run_eval(ws, load_config(ws.config_file), spec, store, resume=run_id))
    msg = str(err.value)
    assert f"cannot resume run {run_id}" in msg
    assert "dialogues: changed c002; added c999; removed c005" in msg


def test_the_writer_commits_on_a_timer_without_new_results(tmp_path: Path) -> None:
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run = store.start_run("quality")

        async def scenario() -> int:
            writer = _Writer(store, run.id, window_s=0.05)
            writer.start()
            rec = RequestRecord(candidate="a", case_id="c1", repeat=0, request={}, text="x")
            grade = GradeRecord(candidate="a", case_id="c1", repeat=0, grader="g", passed=True)
            await writer.add(rec, [grade])
            # Nothing else arrives (a slow candidate); the timer alone must commit it.
            await asyncio.sleep(0.3)
            stored = len(store.done_keys(run.id))
            await writer.stop()
            return stored

        assert asyncio.run(scenario()) == 1
