"""Gateway overhead: latency the gateway adds in front of a model server, its CPU per request,
its memory, with auth, token budgets, audit and metrics on.

Setup: nova's mock server (zero delay, 16-token answers) in its own process; `nova serve` in
its own process on a temporary workspace whose primary candidate is that mock server, with
an app key that has an RPM limit and a token budget (both far above what the run uses, so
they are checked on every request but never reject); the benchmark client (aiohttp) in this
process. Each phase runs the same requests once straight to the mock server ("direct") and
once through the gateway; "added" is gateway minus direct for the same statistic.

Phases:
  rate       open loop, a request every 1/RATE s for SECONDS s, non-streaming; p50/p99 latency
  conc       closed loop at concurrency 32 for SECONDS s, non-streaming; throughput, p50/p99
  stream     closed loop at concurrency 8, streaming; time to first content chunk p50/p99
CPU per request = the gateway process's user+system CPU seconds (from /proc) during a phase
divided by the requests of that phase; RSS = the gateway's resident memory after the run.
Percentiles: nearest-rank over every request of the phase (no warm-up requests counted: the
first 200 requests of each phase are a warm-up and dropped). The machine is shared (2 cores,
other work running): the numbers are one run; run it twice to see the spread.

Run: python benchmarks/bench_gateway.py [SECONDS] [RATE]     (defaults 4 s, 500/s)
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from _mockproc import mock_server_process
from rich.console import Console
from rich.table import Table

from nova.config import Workspace
from nova.gateway import create_key
from nova.providers import MockServerSettings
from nova.store import open_store

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
RATE = float(sys.argv[2]) if len(sys.argv) > 2 else 500.0
WARMUP = 200
SRC = Path(__file__).resolve().parents[1] / "src"


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]  # nearest rank


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _body(stream: bool) -> bytes:
    msgs = [{"role": "user", "content": "Hallo Sophia, wie lange läuft mein Vertrag?"}]
    return json.dumps(
        {"model": "primary-m", "stream": stream, "max_tokens": 16, "messages": msgs}
    ).encode()


async def _one(
    s: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], stream: bool
) -> tuple[float, float]:
    """(latency, time to first content chunk) in seconds."""
    t0 = time.perf_counter()
    ttft = float("nan")
    async with s.post(url, data=body, headers=headers) as r:
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {await r.text()}")
        if stream:
            async for line in r.content:
                if ttft != ttft and b'"content":"' in line and b'"content":""' not in line:
                    ttft = time.perf_counter() - t0
        else:
            await r.read()
    return time.perf_counter() - t0, ttft


async def _rate(url: str, headers: dict[str, str]) -> list[float]:
    n = int(SECONDS * RATE) + WARMUP
    body = _body(False)
    out: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as s:
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(s, url, body, headers, False)))
        for i, t in enumerate(tasks):
            lat, _ = await t
            if i >= WARMUP:
                out.append(lat)
    return out


async def _closed(
    url: str, headers: dict[str, str], conc: int, stream: bool
) -> tuple[list[float], list[float], float]:
    body = _body(stream)
    lats: list[float] = []
    ttfts: list[float] = []
    count = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc * 2)) as s:
        t_end = time.perf_counter() + SECONDS + 1.0

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < t_end:
                lat, ttft = await _one(s, url, body, headers, stream)
                count += 1
                if count > WARMUP:
                    lats.append(lat)
                    ttfts.append(ttft)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        wall = time.perf_counter() - t0
    return lats, ttfts, count / wall


def _workspace(root: Path, mock_url: str) -> tuple[Workspace, str]:
    root.mkdir()
    (root / "nova.yaml").write_text(
        "version: 1\nname: Bench\ncandidates:\n"
        "  - id: primary-m\n    model: openai/nova-mock\n    role: primary\n"
        f"    provider: {{base_url: '{mock_url}', max_retries: 0, max_concurrency: 128,"
        " cache: false}\n",
        encoding="utf-8",
    )
    ws = Workspace(root)
    with open_store(ws) as store:
        key = create_key(store, name="bench", role="app", rpm=10_000_000, budget_tokens=10**12)
    return ws, key.secret


def main() -> int:
    con = Console(width=200)
    settings = MockServerSettings(output_tokens=16)
    with tempfile.TemporaryDirectory() as tmp, mock_server_process(settings) as mock_url:
        ws, key = _workspace(Path(tmp) / "ws", mock_url)
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        gw = subprocess.Popen(
            [sys.executable, "-m", "nova", "--workspace", str(ws.root), "serve",
             "--port", str(port)],
            env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait(f"http://127.0.0.1:{port}/readyz")
            gw_url = f"http://127.0.0.1:{port}/v1/chat/completions"
            direct = f"{mock_url}/chat/completions"
            auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            plain = {"Content-Type": "application/json"}
            rows = []
            cpu0 = _cpu_s(gw.pid)
            d = asyncio.run(_rate(direct, plain))
            c0 = _cpu_s(gw.pid)
            g = asyncio.run(_rate(gw_url, auth))
            cpu_rate = (_cpu_s(gw.pid) - c0) / (len(g) + WARMUP)
            rows.append((f"rate {RATE:g}/s, plain", d, g, None, None, cpu_rate))
            d2, _, d_rps = asyncio.run(_closed(direct, plain, 32, False))
            c0 = _cpu_s(gw.pid)
            g2, _, g_rps = asyncio.run(_closed(gw_url, auth, 32, False))
            cpu_conc = (_cpu_s(gw.pid) - c0) / (len(g2) + WARMUP)
            rows.append(("concurrency 32, plain", d2, g2, d_rps, g_rps, cpu_conc))
            _, dt, d3_rps = asyncio.run(_closed(direct, plain, 8, True))
            c0 = _cpu_s(gw.pid)
            _, gt, g3_rps = asyncio.run(_closed(gw_url, auth, 8, True))
            cpu_stream = (_cpu_s(gw.pid) - c0) / (len(gt) + WARMUP)
            rows.append(("concurrency 8, stream: TTFT", dt, gt, d3_rps, g3_rps, cpu_stream))
            rss = _rss_mb(gw.pid)
            _ = cpu0
        finally:
            gw.terminate()
            gw.wait(10)
        with open_store(ws) as store:
            issues = store.verify_audit()
            n_audit = len(store.audit_entries())
    t = Table(title=f"nova serve vs the same mock server called directly ({SECONDS:g} s/phase)")
    for col in ("phase", "direct p50 ms", "gateway p50 ms", "added p50 ms", "direct p99 ms",
                "gateway p99 ms", "added p99 ms", "req/s direct", "req/s gateway",
                "gateway CPU ms/req"):  # fmt: skip
        t.add_column(col, justify="right")
    for name, d, g, drps, grps, cpu in rows:
        dp50, gp50, dp99, gp99 = (_pct(d, 50), _pct(g, 50), _pct(d, 99), _pct(g, 99))
        t.add_row(
            name,
            f"{dp50 * 1e3:.2f}", f"{gp50 * 1e3:.2f}", f"{(gp50 - dp50) * 1e3:+.2f}",
            f"{dp99 * 1e3:.2f}", f"{gp99 * 1e3:.2f}", f"{(gp99 - dp99) * 1e3:+.2f}",
            f"{drps:.0f}" if drps else "", f"{grps:.0f}" if grps else "",
            f"{cpu * 1e3:.3f}",
        )  # fmt: skip
    con.print(t)
    con.print(
        f"gateway RSS after the run: {rss:.0f} MB; audit records: {n_audit}, "
        f"chain {'intact' if not issues else 'BROKEN'}; cores: {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    return 0 if not issues else 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
