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


@pytest.mark.integration
def test_kill_9_then_resume_calls_no_completed_case_again(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    settings = MockServerSettings(ttft_ms=30, itl_ms=1, output_tokens=4, request_log=log)
    with running_mock_server(settings) as url:
        ws = make_workspace(tmp_path / "ws", n=60)
        cfg = yaml.safe_load((ws.root / "nova.yaml").read_text("utf-8"))
        cfg["candidates"] = [
            {
                "id": "a",
                "model": "openai/m",
                "provider": {"base_url": url, "cache": False, "max_concurrency": 2},
            }
        ]
        (ws.root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
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
            [*args, "--resume", run_id],
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
