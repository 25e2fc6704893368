"""`nova serve --workers 2`: two processes share the port, /metrics adds up both, and both
append to one audit chain."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nova.config import Workspace
from nova.gateway import create_key
from nova.store import open_store
from tests._services import free_port
from tests.gateway.conftest import request
from tests.gateway.test_audit_crash import SRC, write_workspace
from tests.gateway.test_gateway import metric


@contextlib.contextmanager
def serving_two_workers(ws: Workspace) -> Iterator[str]:
    """`nova serve --workers 2` on a free port; yields its URL once both listen, and
    checks that SIGTERM stops it cleanly."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "nova", "--workspace", str(ws.root), "serve",
           "--port", str(port), "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(url, "GET", "/readyz").status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.0)  # both workers listening
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]


@pytest.mark.integration
def test_two_workers_share_port_metrics_and_audit_chain(
    tmp_path: Path, mock_urls: Callable[..., str]
) -> None:
    ws = write_workspace(tmp_path / "ws", mock_urls(output_tokens=2))
    with open_store(ws) as store:
        key = create_key(store, name="w", role="app").secret
    with serving_two_workers(ws) as url:
        body = {"model": "primary-m", "messages": [{"role": "user", "content": "Hallo"}]}
        for _ in range(20):
            r = request(url, "POST", "/v1/chat/completions", json_body=body, key=key)
            assert r.status == 200
        text = request(url, "GET", "/metrics").body.decode()
        assert metric(text, "nova_gateway_requests_total", candidate="primary-m", code="200") == 20
    with open_store(ws) as store:
        assert store.verify_audit() == []
        records = [e for e in store.audit_entries() if e.action == "gateway.request"]
    assert len(records) == 20


@pytest.mark.integration
def test_two_workers_hold_one_rpm_together(tmp_path: Path, mock_urls: Callable[..., str]) -> None:
    ws = write_workspace(tmp_path / "ws", mock_urls(output_tokens=2))
    with ws.config_file.open("a", encoding="utf-8") as f:
        f.write("gateway: {limits_sync_s: 0.05}\n")
    with open_store(ws) as store:
        key = create_key(store, name="w", role="app", rpm=10).secret
    with serving_two_workers(ws) as url:
        body = {"model": "primary-m", "messages": [{"role": "user", "content": "Hallo"}]}
        codes = []
        # Each request on a new connection: the kernel spreads them over both workers. 0.15 s
        # apart (three sync intervals); the refill over the 3.6 s is 10 * 3.6 / 60 = 0.6.
        for _ in range(24):
            r = request(url, "POST", "/v1/chat/completions", json_body=body, key=key)
            codes.append(r.status)
            time.sleep(0.15)
        text = request(url, "GET", "/metrics").body.decode()
        assert metric(text, "nova_gateway_budget_rejections_total", kind="rpm") == 14
    assert codes.count(200) == 10, codes
    with open_store(ws) as store, store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT node, SUM(requests) FROM gateway_rate_counters GROUP BY node"
        ).all()
    # Both workers admitted some of the ten (one alone would hold the limit by itself).
    assert len(rows) == 2 and sum(n for _, n in rows) == 10, rows
