"""Mock server throughput: can nova's mock LLM server out-run the clients it measures?

The server runs in its own process pinned to one core; this process drives it from another
core with aiohttp at concurrency 32: first plain (non-streaming) requests, then streaming ones
with 32 one-token chunks and no delays. Server CPU time comes from /proc/<pid>/stat.
Exits 1 when the plain rate is under 2,000 requests/s: then the mock, not the code under test,
would limit nova's own latency benchmarks.

Run: make bench  (or .venv/bin/python benchmarks/bench_mockserver.py [seconds])
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from nova.providers._mockserver import MockServer, MockServerSettings

TARGET = 2000.0
CONCURRENCY = 32
WARMUP_S = 1.0
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
_TICK = os.sysconf("SC_CLK_TCK")


def _serve(settings: MockServerSettings, core: int | None, conn: Connection) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    MockServer(settings).run_forever(on_ready=conn.send)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICK


async def _drive(url: str, body: bytes, stream: bool, seconds: float) -> int:
    """Requests completed by CONCURRENCY workers within ``seconds``; every answer is checked."""
    done = 0
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(stop: float) -> None:
            nonlocal done
            headers = {"Content-Type": "application/json"}
            while time.perf_counter() < stop:
                async with session.post(url, data=body, headers=headers) as resp:
                    data = await resp.read()
                ok = data.endswith(b"data: [DONE]\n\n") if stream else b'"usage"' in data
                if resp.status != 200 or not ok:
                    raise RuntimeError(f"bad answer: HTTP {resp.status} {data[-200:]!r}")
                done += 1

        await asyncio.gather(*(worker(time.perf_counter() + seconds) for _ in range(CONCURRENCY)))
    return done


def run_mode(
    name: str, settings: MockServerSettings, stream: bool, cores: list[int]
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server_core = cores[0] if len(cores) > 1 else None
    proc = ctx.Process(target=_serve, args=(settings, server_core, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("the mock server did not start within 30 s")
        url = parent.recv() + "/chat/completions"
        msgs = [{"role": "user", "content": "Wie kündige ich meinen Vertrag bei Sophia?"}]
        body = json.dumps({"model": "nova-mock", "messages": msgs, "stream": stream}).encode()
        asyncio.run(_drive(url, body, stream, WARMUP_S))
        cpu0, t0 = _cpu_s(proc.pid or 0), time.perf_counter()
        n = asyncio.run(_drive(url, body, stream, SECONDS))
        wall, cpu = time.perf_counter() - t0, _cpu_s(proc.pid or 0) - cpu0
    finally:
        proc.terminate()  # SIGTERM: the server stops cleanly
        proc.join(10)
    return {
        "mode": name,
        "requests": n,
        "rate": n / wall,
        "cpu_per_req": cpu / n,
        "util": cpu / wall,
    }


def main() -> int:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[1]})
    plain = MockServerSettings(output_tokens=16)
    streaming = MockServerSettings(output_tokens=32, itl_ms=0.0)
    rows = [
        run_mode("non-streaming (16 tokens)", plain, False, cores),
        run_mode("streaming (32 chunks, itl 0)", streaming, True, cores),
    ]
    where = (
        f"server on core {cores[0]}, client on core {cores[1]}"
        if len(cores) > 1
        else ("ONE core only: server and client share it")
    )
    table = Table(
        title=f"Mock server, aiohttp client at concurrency {CONCURRENCY}, {SECONDS:g} s per mode "
        f"({where}; load average {os.getloadavg()[0]:.1f})"
    )
    for col in ("mode", "requests", "req/s", "server CPU ms/req", "server core busy", "≥ 2,000/s"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    for r in rows:
        met = "yes" if r["rate"] >= TARGET else "no"
        table.add_row(
            r["mode"], f"{r['requests']:,}", f"{r['rate']:,.0f}", f"{r['cpu_per_req'] * 1e3:.3f}",
            f"{r['util']:.0%}", met if r is rows[0] else f"({met})",
        )  # fmt: skip
    Console(width=max(Console().width, 130)).print(table)
    if rows[0]["rate"] < TARGET:
        print(f"FAIL: non-streaming {rows[0]['rate']:,.0f} requests/s < {TARGET:,.0f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
