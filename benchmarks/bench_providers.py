"""Client overhead: CPU time per request of nova's provider stack vs bare aiohttp.

nova's mock server runs in its own process pinned to core 0; this process (core 1) sends
N requests at concurrency 32 (a) with bare aiohttp (post, read/parse the body), (b) through
nova's CandidateClient + OpenAI adapter (timings, SSE parsing, usage, retries, limits).
CPU per request = this process's CPU seconds / requests. Target (issue #3): nova < 1 ms.

Run: make bench  (or .venv/bin/python benchmarks/bench_providers.py [requests])
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
from _mockproc import mock_server_process
from rich.console import Console
from rich.table import Table

from nova.config import Candidate
from nova.providers import (
    CandidateClient,
    ChatRequest,
    Message,
    MockServerSettings,
    create_provider,
)

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
CONCURRENCY = 32
TARGET_MS = 1.0


async def _bare(url: str, stream: bool) -> None:
    body = json.dumps(
        {
            "model": "m",
            "stream": stream,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "Hallo"}],
        }
    ).encode()
    sem = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as s:

        async def one() -> None:
            async with (
                sem,
                s.post(
                    f"{url}/chat/completions",
                    data=body,
                    headers={"Content-Type": "application/json"},
                ) as r,
            ):
                if stream:
                    async for _line in r.content:
                        pass
                else:
                    await r.json()

        await asyncio.gather(*(one() for _ in range(N)))


async def _nova(url: str, stream: bool) -> None:
    cand = Candidate.model_validate(
        {
            "id": "m",
            "model": "openai/m",
            "provider": {"base_url": url, "cache": False, "max_concurrency": CONCURRENCY},
        }
    )
    req = ChatRequest(
        messages=[Message(role="user", content="Hallo")], max_tokens=16, stream=stream
    )
    async with CandidateClient(create_provider(cand)) as c:
        await asyncio.gather(*(c.chat(req) for _ in range(N)))


def _measure(fn: object, url: str, stream: bool) -> tuple[float, float]:
    asyncio.run(fn(url, stream))  # type: ignore[operator]  # warm-up run
    cpu0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(fn(url, stream))  # type: ignore[operator]
    return (time.process_time() - cpu0) / N * 1000, N / (time.perf_counter() - t0)


def main() -> None:
    table = Table(
        title=f"Client CPU per request, {N:,} requests at concurrency {CONCURRENCY} "
        "against nova's mock server (16 output tokens)"
    )
    for col in ("mode", "client", "CPU ms/request", "req/s", "vs bare aiohttp", "target"):
        table.add_column(col, justify="right")
    worst = 0.0
    with mock_server_process(MockServerSettings(output_tokens=16)) as url:
        for stream in (False, True):
            bare_ms, bare_rate = _measure(_bare, url, stream)
            nova_ms, nova_rate = _measure(_nova, url, stream)
            worst = max(worst, nova_ms)
            mode = "streaming" if stream else "non-streaming"
            table.add_row(mode, "bare aiohttp", f"{bare_ms:.3f}", f"{bare_rate:,.0f}", "1.0×", "")
            table.add_row(
                mode,
                "nova",
                f"{nova_ms:.3f}",
                f"{nova_rate:,.0f}",
                f"{nova_ms / bare_ms:.1f}×",
                "ok" if nova_ms < TARGET_MS else f"MISSED (>= {TARGET_MS} ms)",
            )
    Console().print(table)
    if worst >= TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
