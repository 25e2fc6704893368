"""Shared by the benchmarks: nova's mock server in its own process, pinned to core 0, with
the benchmark itself pinned to core 1, so server and client never share a core."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from nova.providers import MockServer, MockServerSettings


def _serve(settings: MockServerSettings, conn: Connection) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    # The forked server inherits the benchmark's whole heap (nova, aiohttp, rich ...): a full
    # collection of it stalled the server for 85 ms once every ~3,600 requests, which showed
    # up as the p99 of whatever was being measured. Out of the collector's sight it stays.
    gc.collect()
    gc.freeze()
    MockServer(settings).run_forever(on_ready=conn.send)


def write_mock_config(root: Path, url: str, max_concurrency: int = 64) -> None:
    """nova.yaml of a benchmark workspace: one baseline candidate, nova's mock server at
    ``url``, no response cache."""
    import yaml

    candidate = {
        "id": "mock",
        "model": "openai/nova-mock",
        "role": "baseline",
        "provider": {"base_url": url, "cache": False, "max_concurrency": max_concurrency},
    }
    cfg = {"version": 1, "name": "bench", "candidates": [candidate]}
    (root / "nova.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")


@contextlib.contextmanager
def mock_server_process(settings: MockServerSettings) -> Iterator[str]:
    """Yield the mock server's base URL; the server process is stopped on exit."""
    parent, child = mp.Pipe()
    server = mp.Process(target=_serve, args=(settings, child), daemon=True)
    server.start()
    url = parent.recv()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})
    try:
        yield url
    finally:
        server.terminate()
        server.join(5)
