"""kill -9 in the middle of an eval run, then --resume: no stored case reaches the server again,
and none is lost. The mock server's request log is the witness."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from nova.config import Workspace
from nova.providers import MockServerSettings, running_mock_server
from tests.evals.test_runner import make_workspace


def _stored(db: Path) -> tuple[str | None, set[str]]:
    if not db.exists():
        return None, set()
    with sqlite3.connect(db) as con:
        try:
            rows = con.execute("SELECT run_id, case_id FROM requests").fetchall()
        except sqlite3.OperationalError:
            return None, set()
    return (rows[0][0] if rows else None), {r[1] for r in rows}


def _one_candidate_workspace(root: Path, url: str, n: int) -> Workspace:
    """``n`` dialogue cases and one candidate ``a`` on the mock server at ``url``, 2 at a time."""
    ws = make_workspace(root, n=n)
    cfg = yaml.safe_load((ws.root / "nova.yaml").read_text("utf-8"))
    cfg["candidates"] = [
        {
            "id": "a",
            "model": "openai/m",
            "provider": {"base_url": url, "cache": False, "max_concurrency": 2},
        }
    ]
    (ws.root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    return ws


@pytest.mark.integration
def test_kill_9_then_resume_calls_no_completed_case_again(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    settings = MockServerSettings(ttft_ms=30, itl_ms=1, output_tokens=4, request_log=log)
    with running_mock_server(settings) as url:
        ws = _one_candidate_workspace(tmp_path / "ws", url, n=60)
        args = [
            sys.executable,
            "-m",
            "nova",
            "--workspace",
            str(ws.root),
            "eval",
            "run",
            "--datasets",
            "dialogues",
            "--candidates",
            "a",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = ws.root / ".nova" / "nova.db"
        deadline = time.monotonic() + 60
        while len(_stored(db)[1]) < 15:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        run_id, stored_at_kill = _stored(db)
        assert run_id is not None and 15 <= len(stored_at_kill) < 60

        done = subprocess.run(
            [*args[:7], "--resume", run_id],  # the stored settings; no options repeated
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "resumed from the store" in done.stdout

    _, stored = _stored(db)
    assert stored == {f"c{i:03d}" for i in range(60)}  # none lost
    calls = Counter(json.loads(line)["last_user"] for line in log.read_text().splitlines())
    for case_id in stored_at_kill:
        prompt = f"Frage {int(case_id[1:])}"
        assert calls[prompt] == 1, f"{case_id} was stored before the kill but called again"
    assert set(calls) == {f"Frage {i}" for i in range(60)}


@pytest.mark.integration
def test_after_kill_9_only_the_cases_in_flight_are_called_again(tmp_path: Path) -> None:
    """The writer commits on a timer (FLUSH_WINDOW_S): an answer never waits in memory for
    the next one. With a slow candidate (0.8 s per answer, 2 at a time) answers arrive in
    pairs; killed mid-way between two pairs, only the pair in flight is lost."""
    log = tmp_path / "requests.jsonl"
    settings = MockServerSettings(ttft_ms=800, itl_ms=1, output_tokens=4, request_log=log)
    with running_mock_server(settings) as url:
        ws = _one_candidate_workspace(tmp_path / "ws", url, n=12)
        base = [sys.executable, "-m", "nova", "--workspace", str(ws.root), "eval", "run"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
        proc = subprocess.Popen(
            [*base, "--datasets", "dialogues", "--candidates", "a"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        db = ws.root / ".nova" / "nova.db"
        deadline = time.monotonic() + 60
        while len(_stored(db)[1]) < 4:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.4)  # half-way to the next pair: far more than one flush window
        called_at_kill = {json.loads(x)["last_user"] for x in log.read_text().splitlines()}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        run_id, stored_at_kill = _stored(db)
        assert run_id is not None
        stored_prompts = {f"Frage {int(c[1:])}" for c in stored_at_kill}
        lost = called_at_kill - stored_prompts
        assert len(lost) <= 2, f"{len(lost)} answered or in-flight cases lost: {sorted(lost)}"
        lines_before = len(log.read_text().splitlines())
        done = subprocess.run(
            [*base, "--resume", run_id], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    again = [json.loads(x)["last_user"] for x in log.read_text().splitlines()[lines_before:]]
    recalled = set(again) & called_at_kill
    assert recalled == lost
    assert {f"c{i:03d}" for i in range(12)} == _stored(db)[1]
