from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nova.store import RunStore

WRITER = Path(__file__).with_name("_writer.py")


@pytest.mark.integration
@pytest.mark.parametrize("after", [5, 40, 200])
def test_kill_9_during_writes_loses_no_committed_row(tmp_path: Path, after: int) -> None:
    db = tmp_path / "n.db"
    url = f"sqlite:///{db}"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url, "run-1"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    confirmed = 0
    for line in proc.stdout:
        confirmed = int(line)
        if confirmed >= after:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with RunStore(url) as store:
        stored = store.count_requests("run-1")
        status = store.get_run("run-1").status
        keys = store.done_keys("run-1")
    # Every write the writer saw committed is there; at most the one in flight is not.
    assert stored >= confirmed
    assert status == "running"  # an unfinished run, visible as such and resumable
    assert {("a", f"c{i}", 0) for i in range(confirmed)} <= keys
