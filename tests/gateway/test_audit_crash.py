"""kill -9 of a real `nova serve` under load: no torn audit record, no gap that
`nova audit verify` cannot see, and every answer a client received is in the log."""

from __future__ import annotations

import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nova.config import Workspace
from nova.gateway import create_key
from nova.store import open_store
from tests._services import free_port
from tests.gateway.conftest import request

SRC = Path(__file__).resolve().parents[2] / "src"


def write_workspace(root: Path, base_url: str) -> Workspace:
    root.mkdir(parents=True)
    (root / "nova.yaml").write_text(
        "version: 1\nname: Sophia\ncandidates:\n"
        "  - id: primary-m\n    model: openai/nova-mock\n    role: primary\n"
        f"    provider: {{base_url: '{base_url}', max_retries: 0, max_concurrency: 64}}\n",
        encoding="utf-8",
    )
    return Workspace(root)


def start_serve(ws: Workspace, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nova",
                "--workspace",
                str(ws.root),
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            if request(f"http://127.0.0.1:{port}", "GET", "/readyz").status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"nova serve did not start: {log.read_text()}")
        time.sleep(0.1)


@pytest.mark.integration
@pytest.mark.parametrize("after", [30, 300])
def test_kill_9_under_load_leaves_a_verifiable_chain_with_every_answer(
    tmp_path: Path, mock_urls: Callable[..., str], after: int
) -> None:
    ws = write_workspace(tmp_path / "ws", mock_urls(output_tokens=4))
    with open_store(ws) as store:
        key = create_key(store, name="load", role="app").secret
    port = free_port()
    proc = start_serve(ws, port, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    done: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            rid = f"c{n}-{i}"
            i += 1
            stream = i % 2 == 0
            body = {
                "model": "primary-m",
                "stream": stream,
                "messages": [{"role": "user", "content": f"Frage {rid}"}],
            }
            try:
                r = request(
                    url, "POST", "/v1/chat/completions", json_body=body, key=key,
                    headers={"X-Request-Id": rid},
                )  # fmt: skip
            except (OSError, http.client.HTTPException):  # the server was killed mid-answer
                continue
            complete = r.status == 200 and (
                r.body.rstrip().endswith(b"data: [DONE]") if stream else r.body.endswith(b"}")
            )
            if complete:
                with lock:
                    done.append(rid)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        while len(done) < after:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    confirmed = set(done)

    db = ws.state_dir / "nova.db"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with open_store(ws) as store:
        assert store.verify_audit() == []  # no torn record, head consistent with the table
        entries = store.audit_entries()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    logged = {e.payload.get("request_id") for e in entries if e.action == "gateway.request"}
    assert confirmed <= logged  # every answer a client got is in the chain
    assert len(confirmed) >= after


def test_store_audit_head_moves_the_anchor(tmp_path: Path) -> None:
    from nova.config import NovaConfig

    ws = write_workspace(tmp_path / "ws", "http://127.0.0.1:1/v1")
    shared = tmp_path / "shared" / "sophia.head"
    cfg = NovaConfig.model_validate(
        {"name": "S", "candidates": [], "store": {"audit_head": str(shared)}}
    )
    with open_store(ws, cfg) as store:
        store.audit("nova", "x")
        assert store.audit_head == shared and shared.exists()
        assert store.verify_audit() == []
    shared.unlink()
    with open_store(ws, cfg) as store:
        assert "is missing" in store.verify_audit()[0].problem
