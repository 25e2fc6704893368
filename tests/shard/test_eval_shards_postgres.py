"""A sharded eval run (3 processes, one PostgreSQL store) gives exactly the report of a
single-process run with the same seed; kill -9 of one shard and its resume give it again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from nova.providers import MockServerSettings, running_mock_server
from nova.store import RunStore
from tests._services import postgres_server
from tests.evals.test_runner import make_workspace

N_CASES = 60


def _report(out: str) -> dict[str, Any]:
    rep: dict[str, Any] = json.loads(out)
    for k in ("run_id", "meta", "status"):
        rep.pop(k, None)
    return rep


def _stored(url: str, run_id: str) -> list[tuple[str, str]]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT candidate, case_id FROM requests WHERE run_id = :r"), {"r": run_id}
            ).all()
    except sa.exc.ProgrammingError:  # tables not created yet
        return []
    finally:
        eng.dispose()
    return [(r[0], r[1]) for r in rows]


@pytest.mark.integration
def test_three_shards_give_the_single_process_report_even_after_kill_9(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    settings = MockServerSettings(ttft_ms=40, itl_ms=1, output_tokens=4, request_log=log)
    with postgres_server() as db, running_mock_server(settings) as url:
        ws = make_workspace(tmp_path / "ws", n=N_CASES)
        cfg = yaml.safe_load((ws.root / "nova.yaml").read_text("utf-8"))
        cfg["candidates"].append(
            {
                "id": "served",
                "model": "openai/m",
                "provider": {"base_url": url, "cache": False, "max_concurrency": 2},
            }
        )
        (ws.root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
        env["NOVA_DATABASE_URL"] = db
        base = [sys.executable, "-m", "nova", "--workspace", str(ws.root), "eval", "run"]
        opts = ["--datasets", "dialogues", "--candidates", "strong,weak,served", "--json"]

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*base, *extra], env=env, capture_output=True, text=True, timeout=180
            )

        # Three shards at once, into one run of a fresh store (they race to migrate it and
        # to create the run).
        procs = [
            subprocess.Popen(
                [*base, *opts, "--run-id", "sharded-1", "--shard", f"{i}/3"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        outs = [p.communicate(timeout=180) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
        show = subprocess.run(
            [*base[:-1], "show", "sharded-1", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert show.returncode == 0, show.stderr
        single = run(*opts)
        assert single.returncode == 0, single.stderr
        want = _report(single.stdout)
        assert want["candidates"][0]["pass_rate"]["n"] == N_CASES
        assert _report(show.stdout) == want
        rows = _stored(db, "sharded-1")
        assert len(rows) == len(set(rows)) == 3 * N_CASES
        with RunStore(db) as store:
            run_rec = store.get_run("sharded-1")
        assert run_rec.status == "completed"
        assert run_rec.meta["shards"] == 3
        assert [run_rec.meta[f"shard {i}/3"]["status"] for i in range(3)] == ["completed"] * 3
        assert sum(run_rec.meta[f"shard {i}/3"]["items"] for i in range(3)) == 3 * N_CASES

        # kill -9 of shard 1 mid-way; shards 0 and 2 finish; shard 1 resumed alone.
        for i in (0, 2):
            done = run(*opts, "--run-id", "sharded-2", "--shard", f"{i}/3")
            assert done.returncode == 0, done.stderr
            assert "Run sharded-2 is complete when every shard is" in done.stdout
        before = len(_stored(db, "sharded-2"))
        victim = subprocess.Popen(
            [*base, *opts, "--run-id", "sharded-2", "--shard", "1/3"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(_stored(db, "sharded-2")) < before + 10:
            assert victim.poll() is None, "the shard ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        at_kill = set(_stored(db, "sharded-2"))
        assert before + 10 <= len(at_kill) < 3 * N_CASES
        with RunStore(db) as store:
            assert store.get_run("sharded-2").status == "running"
        merge = [*base[:-2], "runs", "merge", "sharded-2", "--json"]
        pending = subprocess.run(merge, env=env, capture_output=True, text=True, timeout=120)
        assert pending.returncode == 1
        assert "shard(s) 1/3 not completed" in pending.stderr
        states = json.loads(pending.stdout)["shards"]
        assert [s["status"] for s in states] == ["completed", "running", "completed"]
        lines_before = len(log.read_text().splitlines())
        resumed = run("--resume", "sharded-2", "--shard", "1/3", "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert _report(resumed.stdout) == want
        rows = _stored(db, "sharded-2")
        assert len(rows) == len(set(rows)) == 3 * N_CASES  # nothing counted twice
        # The resume called the server only for shard 1's cases not stored at the kill.
        again = {json.loads(x)["last_user"] for x in log.read_text().splitlines()[lines_before:]}
        stored_served = {c for cand, c in at_kill if cand == "served"}
        assert not again & {f"Frage {int(c[1:])}" for c in stored_served}
