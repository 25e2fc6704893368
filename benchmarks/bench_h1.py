"""Plain requests to a model server: aiohttp's client against nova's kept-alive HTTP/1.1 pool
(``nova.providers._h1``), in one run, on the same mock server.

Setup: nova's mock server (zero delay, 16-token answers) in its own process on core 0; this
process on core 1, on uvloop when installed (as ``nova serve`` runs). Each client sends N
requests one after another (a lone request: what the gateway pays per request at moderate
load), after 300 warm-up requests; the same JSON body each time. CPU per request = this
process's user+system CPU (``time.process_time``) during the N requests / N; latency p50 =
the median request time as the client sees it. Rounds alternate the clients (A B A B ...)
and the table shows the median round; the ratio compares medians of one run.

Run: python benchmarks/bench_h1.py [N] [ROUNDS]   (defaults 3000, 3)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from _mockproc import mock_server_process
from rich.console import Console
from rich.table import Table

from nova.providers import MockServerSettings
from nova.providers._h1 import H1Pool

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
WARMUP = 300
BODY = json.dumps(
    {
        "model": "nova-mock",
        "messages": [{"role": "user", "content": "Hallo Sophia, wie lange läuft mein Vertrag?"}],
        "max_tokens": 16,
        "stream": False,
    }
).encode()


async def _aiohttp(url: str) -> tuple[float, float]:
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as s:

        async def one() -> None:
            async with s.post(url, data=BODY) as r:
                assert r.status == 200
                json.loads(await r.read())

        return await _measure(one)


async def _h1(url: str) -> tuple[float, float]:
    pool = H1Pool(url, {"Content-Type": "application/json"}, limit=4, connect_timeout_s=5)

    async def one() -> None:
        r = await pool.post(BODY)
        assert r.status == 200
        json.loads(r.body)

    try:
        return await _measure(one)
    finally:
        await pool.close()


async def _measure(one: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    for _ in range(WARMUP):
        await one()
    lats = []
    c0 = time.process_time()
    for _ in range(N):
        t = time.perf_counter()
        await one()
        lats.append(time.perf_counter() - t)
    cpu = (time.process_time() - c0) / N
    return cpu, statistics.median(lats)


def _run(coro: Coroutine[Any, Any, tuple[float, float]]) -> tuple[float, float]:
    try:
        import uvloop
    except ModuleNotFoundError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> int:
    results: dict[str, list[tuple[float, float]]] = {"aiohttp ClientSession": [], "nova H1Pool": []}
    with mock_server_process(MockServerSettings(output_tokens=16)) as base:
        url = f"{base}/chat/completions"
        for _ in range(ROUNDS):
            results["aiohttp ClientSession"].append(_run(_aiohttp(url)))
            results["nova H1Pool"].append(_run(_h1(url)))
    t = Table(title=f"One plain request at a time to the mock server ({N} requests, "
                    f"median of {ROUNDS} alternating rounds)")  # fmt: skip
    for col in ("client", "CPU us/request", "p50 latency us"):
        t.add_column(col, justify="right")
    med = {k: (statistics.median(c for c, _ in v), statistics.median(x for _, x in v))
           for k, v in results.items()}  # fmt: skip
    for name, (cpu, lat) in med.items():
        t.add_row(name, f"{cpu * 1e6:.0f}", f"{lat * 1e6:.0f}")
    Console(width=120).print(t)
    a, b = med["aiohttp ClientSession"], med["nova H1Pool"]
    print(f"CPU per request: aiohttp / H1Pool = {a[0] / b[0]:.2f}x; "
          f"p50 latency: {a[1] / b[1]:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
